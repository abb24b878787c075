"""The analyst copilot: plain-English question -> validated SQL, result page, Plotly chart and a checked caption.

Public API: :class:`copilot.pipeline.Copilot` (``Copilot().ask(question, team, user)``), :func:`copilot.pipeline.ask`,
:class:`copilot.conversation.Conversation`, :mod:`copilot.feedback` and the typed :class:`copilot.models.Answer`.
"""
