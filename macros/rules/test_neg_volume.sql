{#
    NEG_VOLUME (major): every volume column is >= 0.

    Arguments:
      volume_columns  the columns to check (bars: volume_base, volume_quote; klines: volume, quote_volume)

    Example:
      data_tests:
        - neg_volume:
            volume_columns: [volume, quote_volume]
#}
{% macro lakeqa_neg_volume_failures(model, volume_columns) %}
    {% if volume_columns is string or volume_columns | length == 0 %}
        {{ exceptions.raise_compiler_error("neg_volume: volume_columns must be a non-empty list of column names") }}
    {% endif %}
    {% set negatives = [] %}
    {% set details = [] %}
    {% for column in volume_columns %}
        {% do negatives.append(adapter.quote(column) ~ ' < 0') %}
        {% do details.append("case when " ~ adapter.quote(column) ~ " < 0 then '" ~ column ~ " ' || " ~ lakeqa_num(adapter.quote(column)) ~ " end") %}
    {% endfor %}
    {{ lakeqa_rule_failures_select(
        'neg_volume', model,
        where=negatives | join(' or '),
        detail="'negative volume: ' || concat_ws(', ', " ~ details | join(', ') ~ ")",
        sample_columns=volume_columns) }}
{% endmacro %}

{% test neg_volume(model, volume_columns) %}
    {{ config(severity=lakeqa_rule_test_severity('neg_volume')) }}
    {{ return(adapter.dispatch('test_neg_volume', 'lakeqa')(model, volume_columns)) }}
{% endtest %}

{% macro default__test_neg_volume(model, volume_columns) %}
with validation_errors as (
    {{ lakeqa_neg_volume_failures(model, volume_columns) }}
)
select * from validation_errors
{% endmacro %}
