{#
    R5_CONTINUITY (critical): no lost data. Two checks:
      * duplicate timestamps: a (symbol, ts) that appears more than once in the table is one violation;
      * gaps, read from int_continuity_intervals (the one place they are measured; GE reads it too):
          'activity'  (bars built from trades, prebuilt bars) a stretch in which the symbol has neither trades
                      nor quotes for longer than its max_gap_s (seeds/symbol_settings.csv, default var
                      default_max_gap_s). A thin symbol can go minutes without a trade while its quotes keep
                      moving: that is a quiet market, not lost data. Without quotes, trades alone count.
                      One violation per gap, at the last active second before it (floored to `grain`).
          'minutes'   (exchange klines) every minute must be there: one violation per run of missing minutes,
                      at the first missing minute.
          'hours'     (funding_oi_hourly) every hour must be there: one violation per run of missing hours.
          'session_minutes'  (macro_minute) every minute of the market's session (seeds/macro_calendars.csv)
                      must be there, or at most its max_gap_s may pass without one: one violation per run of
                      missing session minutes, at the first of them; closed hours are not missing.
    Gaps are looked for inside each UTC day, between its first and last activity.

    Arguments:
      gap_kind   'activity', 'minutes', 'hours' or 'session_minutes'
      grain      'second' or 'minute': the timestamp grain the violation is reported at

    Example:
      data_tests:
        - r5_continuity:
            arguments:
              gap_kind: activity
              grain: second
#}
{% macro lakeqa_r5_continuity_failures(model, gap_kind, grain='second') %}
    {% set steps = {'minutes': 'minute', 'session_minutes': 'minute', 'hours': 'hour'} %}
    {% if gap_kind != 'activity' and gap_kind not in steps %}
        {{ exceptions.raise_compiler_error("r5_continuity: gap_kind must be 'activity', 'minutes', 'hours' or "
            ~ "'session_minutes', got " ~ gap_kind) }}
    {% endif %}
    {% if grain not in ('second', 'minute') %}
        {{ exceptions.raise_compiler_error("r5_continuity: grain must be 'second' or 'minute', got " ~ grain) }}
    {% endif %}
    {% set rule_id = lakeqa_rule('r5_continuity').rule_id %}

    with

    rows_in_window as (
        select symbol, ts from {{ model }} where {{ lakeqa_in_window('ts') }}
    ),

    duplicate_timestamps as (
        select
            symbol,
            ts,
            cast(null as timestamp) as ts_end,
            '{{ rule_id }}' as rule,
            'duplicate timestamp: ' || {{ lakeqa_format_ts('ts', '%Y-%m-%d %H:%M:%S') }} || ' appears ' || count(*) || ' times' as detail,
            cast(to_json({{ lakeqa_struct({'ts': 'ts', 'copies': 'count(*)'}) }}) as {{ dbt.type_string() }}) as row_sample
        from rows_in_window
        group by symbol, ts
        having count(*) > 1
    ),

    intervals as (
        select * from {{ ref('int_continuity_intervals') }}
        where kind = '{{ gap_kind }}' and gap_s > max_gap_s
    ),

    gaps as (
        select
            symbol,
            {% if gap_kind == 'activity' %}
            {{ 'ts' if grain == 'second' else 'ts_minute' }} as ts,
            next_ts as ts_end,
            '{{ rule_id }}' as rule,
            'gap of ' || cast(gap_s as bigint) || ' s without trades or quotes from '
                || {{ lakeqa_format_ts('ts', '%H:%M:%S') }} || ' to ' || {{ lakeqa_format_ts('next_ts', '%H:%M:%S') }}
                || ' UTC (longest normal gap for ' || symbol || ': ' || cast(max_gap_s as bigint) || ' s)' as detail,
            cast(to_json({{ lakeqa_struct({'last_active': 'ts', 'next_active': 'next_ts', 'gap_s': 'gap_s',
                                           'max_gap_s': 'max_gap_s'}) }}) as {{ dbt.type_string() }}) as row_sample
            {% else %}
            {% set step = steps[gap_kind] %}
            {% set step_s = 3600 if step == 'hour' else 60 %}
            ts + interval 1 {{ step }} as ts,
            next_ts as ts_end,
            '{{ rule_id }}' as rule,
            cast(gap_s / {{ step_s }} - 1 as bigint) || ' missing {{ step }}(s) '
                || {{ "'of the session '" if gap_kind == 'session_minutes' else "''" }} || 'from '
                || {{ lakeqa_format_ts('ts + interval 1 ' ~ step, '%H:%M') }} || ' to ' || {{ lakeqa_format_ts('next_ts - interval 1 ' ~ step, '%H:%M') }}
                || ' UTC' as detail,
            cast(to_json({{ lakeqa_struct({'last_present': 'ts', 'next_present': 'next_ts',
                                           'missing_' ~ step ~ 's': 'gap_s / ' ~ step_s ~ ' - 1'}) }}) as {{ dbt.type_string() }}) as row_sample
            {% endif %}
        from intervals
    )

    select * from duplicate_timestamps
    union all
    select * from gaps
{% endmacro %}

{% test r5_continuity(model, gap_kind, grain) %}
    {{ config(severity=lakeqa_rule_test_severity('r5_continuity')) }}
    {{ return(adapter.dispatch('test_r5_continuity', 'lakeqa')(model, gap_kind, grain)) }}
{% endtest %}

{% macro default__test_r5_continuity(model, gap_kind, grain) %}
with validation_errors as (
    select * from (
        {{ lakeqa_r5_continuity_failures(model, gap_kind, grain) }}
    )
)
select * from validation_errors
{% endmacro %}
