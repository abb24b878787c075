"""Rule: functions from the analyst allowlist only; everything else is refused (deny by default).

sqlglot turns known functions into typed nodes (``DATE_TRUNC`` -> ``TimestampTrunc``) and unknown ones into
``Anonymous``; both are checked, typed nodes by their class key and anonymous ones by name. Nothing that reads files
or URLs (``read_csv``, ``read_parquet``, ``read_text``, ``glob``), exposes the environment or settings (``getenv``,
``current_setting``, ``duckdb_settings``), runs SQL text (``query``) or generates unbounded rows (``range``) is listed.
"""

from __future__ import annotations

from sqlglot import exp

from guardrails.errors import ForbiddenFunctionError


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())

TYPED_ALLOWLIST: frozenset[str] = _words(
    """
    abs avg count countif sum min max median mode quantile approxquantile percentilecont percentiledisc
    stddev stddevpop stddevsamp variance variancepop corr covarpop covarsamp regrslope regrintercept regrr2
    anyvalue argmax argmin first last firstvalue lastvalue nthvalue lag lead rank denserank rownumber percentrank
    cumedist ntile approxdistinct logicaland logicalor booland boolor arrayagg groupconcat
    and or xor exists case if coalesce nullif greatest least cast trycast
    round ceil floor sqrt pow ln log exp sign trunc
    lower upper length substring concat concatws trim left right replace strposition startswith endswith contains
    regexplike regexpextract regexpreplace splitpart split initcap pad reverse
    timestamptrunc datetrunc datediff dateadd datesub timestampdiff timestampadd timetostr strtotime strtodate
    extract year quarter month week weekofyear day dayofweek dayofweekiso dayofmonth dayofyear hour minute second
    currentdate currenttimestamp lastday date timestamp monthname dayname makeinterval
    arraycontains arraysize arrayfilter arraytostring arrayslice arraydistinct arraysort arrayconcat arrayoverlaps
    arraycontainsall arrayposition array unnest explode struct structextract list
    """
)
"""sqlglot expression keys analysts need: aggregates, windows, conditionals, casts, maths, strings, dates, lists."""

ANONYMOUS_ALLOWLIST: frozenset[str] = _words(
    """
    date_part datepart date_sub epoch epoch_ms make_date strptime try_strptime age
    list_contains list_has_any list_has_all list_count list_unique array_length len list_distinct list_sort
    list_aggregate list_extract list_element list_position list_slice array_has list_has
    list_transform list_filter list_reverse list_concat
    struct_extract struct_pack
    quantile_cont quantile_disc quantile median mad approx_quantile reservoir_quantile
    bool_and bool_or count_star stddev_pop var_samp var_pop regr_count entropy kurtosis skewness
    fsum histogram product arg_max arg_min max_by min_by list string_agg favg
    ifnull nvl div fdiv fmod even odd gcd lcm isnan isinf isfinite ln log2 log10
    lpad rpad ltrim rtrim strip_accents starts_with ends_with prefix suffix instr position contains
    regexp_matches regexp_full_match regexp_extract_all string_split str_split array_to_string format printf
    to_days to_months to_years to_weeks to_hours to_minutes to_seconds yearweek isodow isoyear weekday era
    time_bucket last_day greatest least nullif
    """
)
"""DuckDB functions sqlglot does not model as typed nodes, allowed by name (lower case)."""

_HINT = (
    "Use standard aggregate, date, string, maths and list functions; functions that read files or URLs, settings, "
    "the environment, system catalogs or run SQL text are not available."
)


def function_name(node: exp.Func) -> str:
    """The user-facing name of a function node (lower case)."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def allowed_functions(expression: exp.Expr) -> exp.Expr:
    """Raise on the first function outside the allowlist."""
    for node in expression.find_all(exp.Func):
        if isinstance(node, exp.Anonymous | exp.AnonymousAggFunc):
            if str(node.name).lower() in ANONYMOUS_ALLOWLIST:
                continue
        elif node.key in TYPED_ALLOWLIST:
            continue
        name = function_name(node)
        raise ForbiddenFunctionError(f"Function {name!r} is not allowed", obj=name, node=node, hint=_HINT)
    return expression
