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
            'description': "open, high, low and close are never NULL or NaN (a NaN trade makes its bar's high and low NaN)",
        },
        'r5_continuity': {
            'rule_id': 'R5_CONTINUITY', 'name': 'Continuity', 'severity': 'critical', 'threshold_var': 'default_max_gap_s',
            'description': "no stretch without trades and quotes longer than the symbol's max_gap_s (seeds/symbol_settings.csv, default var default_max_gap_s); no duplicate timestamps; on exchange klines no missing minute",
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
        'neg_volume': {
            'rule_id': 'NEG_VOLUME', 'name': 'Non-negative volume', 'severity': 'major', 'threshold_var': none,
            'description': 'volume_base and volume_quote (klines: volume and quote_volume) are >= 0',
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
