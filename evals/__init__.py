"""The evaluation suite: gold set, execution-accuracy scoring, leaks, external benchmarks, scoreboards and the CI gate.

Public API: :func:`evals.compare.compare_results`, :func:`evals.gold.load_gold` / :func:`evals.gold.split_for_id`,
:func:`evals.runner.run_questions`, :func:`evals.scoring.scoreboard`, :func:`evals.report.write_reports`,
:func:`evals.gate.check_gate`; CLI ``python -m evals run|baseline|gate|external|split``.
"""
