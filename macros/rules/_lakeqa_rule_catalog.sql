{#
    lakeqa_rule_catalog() -> the rules, each defined here once: {generic test name: rule}.

    A rule is three things, each in one place:
      * what it is (id, name, severity, the setting holding its threshold, what it checks): this catalog;
      * how it is checked in SQL: macros/rules/test_<test>.sql (its failing rows, its generic dbt test);
      * where it applies (tables and columns): the `data_tests` of the models' yml, and nowhere else.
    `violations` (models/marts/rules/violations.sql), the `rule_catalog` table and the Great Expectations
    suites (lakeqa.ge) are generated from these: dbt's graph lists every attachment of a rule test.

    Why a macro and not a seed: a test's severity (warn, or error with var rules_critical_as_error) must be
    known when dbt parses the project, before any seed is loaded. The `rule_catalog` model publishes this
    catalog as a table for analysts, dbt docs and GE, with each threshold as the build resolved it.

    Rule fields:
      rule_id        as it appears in violations, GE and reports
      name           short name
      severity       critical (FAIL), major (REVIEW) or minor
      threshold_var  the setting (a var of dbt_project.yml) holding the rule's threshold, or none
      threshold_argument  (optional) the test argument that overrides the setting for one attachment
      description    what it checks, for a person
#}
{% macro lakeqa_rule_catalog() %}
    {{ return({
        'r1_ohlc_order': {
            'rule_id': 'R1_OHLC_ORDER', 'name': 'OHLC order', 'severity': 'critical', 'threshold_var': none,
            'description': 'low <= min(open, close) and max(open, close) <= high',
        },
        'r2_positive_price': {
            'rule_id': 'R2_POSITIVE_PRICE', 'name': 'Positive prices', 'severity': 'critical', 'threshold_var': none,
            'description': 'open, high, low and close are all > 0',
        },
        'r3_ask_ge_bid': {
            'rule_id': 'R3_ASK_GE_BID', 'name': 'Ask at or above bid', 'severity': 'major', 'threshold_var': none,
            'description': 'ask >= bid where both are known (a crossed book is a capture or exchange fault)',
        },
        'r4_no_nan': {
            'rule_id': 'R4_NO_NAN', 'name': 'No missing prices', 'severity': 'critical', 'threshold_var': none,
            'description': "open, high, low and close (a context series: its own values) are never NULL or NaN (a NaN trade makes its bar's high and low NaN)",
        },
        'r5_continuity': {
            'rule_id': 'R5_CONTINUITY', 'name': 'Continuity', 'severity': 'critical', 'threshold_var': 'default_max_gap_s',
            'description': "no stretch without trades and quotes longer than the symbol's max_gap_s (seeds/symbol_settings.csv, default var default_max_gap_s); no duplicate timestamps; on exchange klines no missing minute; on the context series no missing funding hour, and no market's session minutes without a bar beyond its max_gap_s (seeds/macro_calendars.csv)",
        },
        'r6_spread_sanity': {
            'rule_id': 'R6_SPREAD_SANITY', 'name': 'Spread sanity', 'severity': 'major', 'threshold_var': 'rule_max_spread_bps',
            'threshold_argument': 'max_spread_bps',
            'description': 'spread_bps = (ask - bid) / mid * 10000 stays below the threshold',
        },
        'r7_kline_parity': {
            'rule_id': 'R7_KLINE_PARITY', 'name': 'Kline parity', 'severity': 'minor', 'threshold_var': 'compare_price_tolerance_bps',
            'description': 'our 1m bar equals the exchange kline (OHLC within compare_price_tolerance_bps, volume within compare_volume_tolerance_rel, trade count exact; a minute on one side only is a mismatch, except an empty exchange minute)',
        },
        'c1_trade_gap': {
            'rule_id': 'C1_TRADE_GAP', 'name': 'Trade stream continuity', 'severity': 'critical',
            'threshold_var': 'completeness.max_trade_gap_s',
            'description': "no silence of the trade stream (no trade at all, the day's edges included) longer than the symbol's max_trade_gap_s (seeds/symbol_settings.csv, default var completeness.max_trade_gap_s) or, for a symbol that trades rarely, completeness.trade_gap_factor x its mean time between trades x ln(its trades); a live book does not hide a dead trade stream",
        },
        'c2_quote_gap': {
            'rule_id': 'C2_QUOTE_GAP', 'name': 'Quote stream continuity', 'severity': 'major',
            'threshold_var': 'default_max_gap_s',
            'description': "no silence of the quote stream (no best bid/ask update, the day's edges included) longer than the symbol's max_gap_s",
        },
        'c3_kline_witness': {
            'rule_id': 'C3_KLINE_WITNESS', 'name': 'Trades the exchange reports', 'severity': 'critical',
            'threshold_var': 'completeness.kline_witness_max_minutes',
            'description': 'no run of more than completeness.kline_witness_max_minutes consecutive minutes in which the exchange klines report trades and the lake has none (one violation per run)',
        },
        'c4_missing_dataset': {
            'rule_id': 'C4_MISSING_DATASET', 'name': 'Dataset present', 'severity': 'major',
            'threshold_var': 'expected_lookback_days',
            'description': 'a dataset (trades, quotes, exchange klines) the lake held for the symbol on one of the expected_lookback_days before is there this day (daily mode; a symbol without trades also FAILs as no data)',
        },
        'c5_row_drop': {
            'rule_id': 'C5_ROW_DROP', 'name': 'Rows as usual', 'severity': 'critical',
            'threshold_var': 'completeness.max_row_drop',
            'description': "the day's trades (quotes) are not more than completeness.max_row_drop fewer than the median of the days before (daily mode; needs at least one judged day of history)",
        },
        'c6_null_share': {
            'rule_id': 'C6_NULL_SHARE', 'name': 'Missing values', 'severity': 'major',
            'threshold_var': 'completeness.max_null_share',
            'description': 'no checked column (trades price and qty, quotes bid and ask, klines OHLC and volume) has more than completeness.max_null_share NULL or NaN values in a period',
        },
        'c7_stale_book': {
            'rule_id': 'C7_STALE_BOOK', 'name': 'Live book', 'severity': 'major',
            'threshold_var': 'completeness.max_stale_seconds',
            'description': 'no traded seconds priced by a quote older than quote_staleness_s (a frozen book; bars_1s shows NULL bid/ask there): more than completeness.max_stale_seconds in one quote silence is a violation',
        },
        'c8_clock_offset': {
            'rule_id': 'C8_CLOCK_OFFSET', 'name': 'Clock in UTC', 'severity': 'critical',
            'threshold_var': 'completeness.clock_offset_min_share',
            'description': "our 1m bars do not equal the exchange klines shifted by a whole number of hours better than unshifted (a clock written in local time; daily mode, needs klines)",
        },
        'c9_price_scale': {
            'rule_id': 'C9_PRICE_SCALE', 'name': 'Price scale', 'severity': 'critical', 'threshold_var': none,
            'description': "our prices are not off by a power of ten: against the exchange kline's close, or without klines a step of our own close by a power of ten",
        },
        'c10_quarantined_file': {
            'rule_id': 'C10_QUARANTINED_FILE', 'name': 'Lake files readable and in contract', 'severity': 'critical',
            'threshold_var': none,
            'description': "every lake file of the symbol-day can be read and holds the lake contract's columns in their kinds; one that does not is kept out of the QA by lakeqa run (quarantine, src/lakeqa/quarantine.py) and its symbol-day FAILs naming the file and column",
        },
        'neg_volume': {
            'rule_id': 'NEG_VOLUME', 'name': 'Non-negative volume', 'severity': 'major', 'threshold_var': none,
            'description': 'volume_base and volume_quote (klines: volume and quote_volume; context series: volume, open_interest) are >= 0',
        },
    }) }}
{% endmacro %}


{#
    lakeqa_rule(test_name) -> the catalog entry of one rule, by its generic test's name; a compile error
    for a name the catalog does not know.
#}
{% macro lakeqa_rule(test_name) %}
    {% set catalog = lakeqa_rule_catalog() %}
    {% if test_name not in catalog %}
        {{ exceptions.raise_compiler_error("lakeqa: rule test '" ~ test_name ~ "' is not in lakeqa_rule_catalog()"
            ~ " (macros/rules/_lakeqa_rule_catalog.sql); known: " ~ (catalog.keys() | list | join(', '))) }}
    {% endif %}
    {{ return(catalog[test_name]) }}
{% endmacro %}


{#
    lakeqa_rule_attachments() -> one dict per rule test attached in the yml, read from dbt's graph
    (execute time only; [] while parsing), ordered by (model, rule id, test name) so the SQL generated from
    them is the same from one run to the next:
      test_name, rule (the catalog entry), model (the attached model's name), model_id (its unique_id),
      kwargs (the test's arguments, without `model`), test_id (the test node's unique_id)
#}
{% macro lakeqa_rule_attachments() %}
    {% set found = [] %}
    {% if not execute %}
        {{ return(found) }}
    {% endif %}
    {% set catalog = lakeqa_rule_catalog() %}
    {% for node in graph.nodes.values() %}
        {% set meta = node.get('test_metadata') or {} %}
        {% if node.resource_type == 'test' and meta.get('name') in catalog
              and (meta.get('namespace') in (none, 'lakeqa')) %}
            {% set model_id = node.get('attached_node') or (node.depends_on.nodes | first) %}
            {% set model = graph.nodes[model_id] %}
            {% set kwargs = {} %}
            {% for key, value in (meta.get('kwargs') or {}).items() if key not in ('model', 'column_name') %}
                {% do kwargs.update({key: value}) %}
            {% endfor %}
            {% do found.append({
                'sort_key': model.name ~ '|' ~ catalog[meta.name].rule_id ~ '|' ~ node.unique_id,
                'test_name': meta.name, 'rule': catalog[meta.name], 'model': model.name, 'model_id': model_id,
                'kwargs': kwargs, 'test_id': node.unique_id,
            }) %}
        {% endif %}
    {% endfor %}
    {{ return(found | sort(attribute='sort_key')) }}
{% endmacro %}
