{#
    R5_CONTINUITY (critical): no lost data. Two checks:
      * duplicate timestamps: a (symbol, ts) that appears more than once is one violation;
      * gaps, by `gap_kind`:
          'activity'  (bars built from trades, prebuilt bars) a stretch in which the symbol has neither trades
                      nor quotes for longer than its max_gap_s (seeds/symbol_settings.csv, default var
                      default_max_gap_s). A thin symbol can go minutes without a trade while its quotes keep
                      moving: that is a quiet market, not lost data. Without quotes, trades alone count.
                      One violation per gap, at the last active second before it (floored to `grain`).
          'minutes'   (exchange klines) every minute must be there: one violation per run of missing minutes,
                      at the first missing minute.
    Gaps are looked for inside each UTC day, between its first and last activity: a day is judged the same
    whether it is built alone or in a range, and the edges of a partial capture are not gaps.

    Arguments:
      gap_kind        'activity' or 'minutes'
      grain           'second' or 'minute': the timestamp grain the violation is reported at
      activity_model  for 'activity': a relation with one row per (symbol, ts) second with trades or quotes

    Example:
      data_tests:
        - r5_continuity:
            gap_kind: activity
            grain: second
            activity_model: ref('int_symbol_activity_seconds')
#}
{% macro lakeqa_r5_continuity_failures(model, gap_kind, grain='second', activity_model=none) %}
    {% if gap_kind not in ('activity', 'minutes') %}
        {{ exceptions.raise_compiler_error("r5_continuity: gap_kind must be 'activity' or 'minutes', got " ~ gap_kind) }}
    {% endif %}
    {% if grain not in ('second', 'minute') %}
        {{ exceptions.raise_compiler_error("r5_continuity: grain must be 'second' or 'minute', got " ~ grain) }}
    {% endif %}
    {% if gap_kind == 'activity' and activity_model is none %}
        {{ exceptions.raise_compiler_error("r5_continuity: gap_kind 'activity' needs activity_model") }}
    {% endif %}

    with

    rows_in_window as (
        select symbol, ts from {{ model }} where {{ lakeqa_in_window('ts') }}
    ),

    duplicate_timestamps as (
        select
            symbol,
            ts,
            cast(null as timestamp) as ts_end,
            'R5_CONTINUITY' as rule,
            'duplicate timestamp: ' || strftime(ts, '%Y-%m-%d %H:%M:%S') || ' appears ' || count(*) || ' times' as detail,
            cast(to_json({'ts': ts, 'copies': count(*)}) as varchar) as row_sample
        from rows_in_window
        group by symbol, ts
        having count(*) > 1
    ),

    {% if gap_kind == 'activity' %}

    symbol_settings as (
        select symbol, max_gap_s from {{ ref('symbol_settings') }}
    ),

    activity as (
        select distinct symbol, ts from {{ activity_model }} where {{ lakeqa_in_window('ts') }}
    ),

    activity_with_next as (
        select
            activity.symbol,
            activity.ts,
            lead(activity.ts) over (partition by activity.symbol, cast(activity.ts as date) order by activity.ts) as next_ts,
            coalesce(symbol_settings.max_gap_s, {{ var('default_max_gap_s') | float }}) as max_gap_s
        from activity
        left join symbol_settings on activity.symbol = symbol_settings.symbol
    ),

    gaps as (
        select
            symbol,
            date_trunc('{{ grain }}', ts) as ts,
            next_ts as ts_end,
            'R5_CONTINUITY' as rule,
            'gap of ' || cast(epoch(next_ts - ts) as bigint) || ' s without trades or quotes from '
                || strftime(ts, '%H:%M:%S') || ' to ' || strftime(next_ts, '%H:%M:%S')
                || ' UTC (longest normal gap for ' || symbol || ': ' || cast(max_gap_s as bigint) || ' s)' as detail,
            cast(to_json({'last_active': ts, 'next_active': next_ts, 'gap_s': epoch(next_ts - ts),
                          'max_gap_s': max_gap_s}) as varchar) as row_sample
        from activity_with_next
        where epoch(next_ts - ts) > max_gap_s
    )

    {% else %}

    minutes_with_next as (
        select distinct
            symbol,
            ts,
            lead(ts) over (partition by symbol, cast(ts as date) order by ts) as next_ts
        from (select distinct symbol, ts from rows_in_window)
    ),

    gaps as (
        select
            symbol,
            ts + interval 1 minute as ts,
            next_ts as ts_end,
            'R5_CONTINUITY' as rule,
            cast(epoch(next_ts - ts) / 60 - 1 as bigint) || ' missing minute(s) from '
                || strftime(ts + interval 1 minute, '%H:%M') || ' to ' || strftime(next_ts - interval 1 minute, '%H:%M')
                || ' UTC' as detail,
            cast(to_json({'last_present': ts, 'next_present': next_ts,
                          'missing_minutes': epoch(next_ts - ts) / 60 - 1}) as varchar) as row_sample
        from minutes_with_next
        where next_ts > ts + interval 1 minute
    )

    {% endif %}

    select * from duplicate_timestamps
    union all
    select * from gaps
{% endmacro %}

{% test r5_continuity(model, gap_kind='activity', grain='second', activity_model=none) %}
    {{ config(severity=lakeqa_rule_test_severity('R5_CONTINUITY')) }}
    {{ return(adapter.dispatch('test_r5_continuity', 'lakeqa')(model, gap_kind, grain, activity_model)) }}
{% endtest %}

{% macro default__test_r5_continuity(model, gap_kind, grain, activity_model) %}
with validation_errors as (
    select * from (
        {{ lakeqa_r5_continuity_failures(model, gap_kind, grain, activity_model) }}
    )
)
select * from validation_errors
{% endmacro %}
