{# grain: one row per symbol per day (var mode daily) or per symbol per hour (mode hourly) #}
{% set window = lakeqa_window() %}
{% set period = 'day' if window.mode == 'daily' else 'hour' %}
{#- every weight and threshold is a setting (dbt_project.yml, fusion.*) -#}
{% set fusion = {} %}
{% for key in ['weight_schema', 'weight_detector', 'weight_ai', 'critical_weight', 'major_weight', 'minor_weight',
               'zscore_background_rate', 'jump_background_rate', 'background_tolerance', 'detector_excess_scale',
               'pass_score', 'review_score'] %}
{% do fusion.update({key: lakeqa_setting_number('fusion.' ~ key)}) %}
{% endfor %}
{% set lookback_days = lakeqa_setting_number('expected_lookback_days') | int %}
{#- IsolationForest's contamination is allowed for only where it runs (lakeqa_iforest_runs) -#}
{% set iforest_share = lakeqa_setting_number('iforest.contamination') if lakeqa_iforest_runs() else 0.0 %}
{% set iforest_off_reason = lakeqa_iforest_off_reason() %}
{% set iforest_training_days = lakeqa_setting_number('detectors.training_days') | int %}
{% set background_rate = iforest_share + 3 * fusion.zscore_background_rate + fusion.jump_background_rate %}

with

bars_1s as (

    select * from {{ ref('bars_1s') }}

),

-- the context series' violations (funding_oi_hourly, macro_minute) are theirs: a verdict judges the symbol's
-- trades, quotes and klines (lakeqa_context_datasets)
{% set context_tables = [] %}
{% for dataset in lakeqa_context_datasets() %}{% do context_tables.append(lakeqa_quote(dataset)) %}{% endfor %}
violations as (

    select * from {{ ref('violations') }}
    where {{ lakeqa_in_window('ts') }}
        and source_table not in ({{ context_tables | join(', ') }})

),

anomalies as (

    select * from {{ ref('anomalies') }}
    where {{ lakeqa_in_window('ts') }}

),

symbol_settings as (

    select * from {{ ref('symbol_settings') }}

),

lake_partitions as (

    select * from {{ ref('stg_lake__partitions') }}

),

iforest_baselines as (

    select * from {{ ref('iforest_baselines') }}

),

coverage as (

    select * from {{ ref('coverage') }}
    where {{ lakeqa_in_window('ts') }}
        and mode = '{{ window.mode }}'

),

periods as (

    -- every day (hour) that starts inside the window
    {{ lakeqa_window_periods(period) }}

),

-- only the columns read below: DuckDB materializes a CTE read twice, and with every bar column it held the
-- day's bars_1s in memory (10 M-trade day: ~190 MB at the end of the build, beside GE's process)
bars_in_window as (

    select
        symbol,
        ts
    from bars_1s
    where {{ lakeqa_in_window('ts') }}

),

-- a symbol is expected on a day when the settings say so, var expected_symbols names it, or the lake held
-- its trades within the expected_lookback_days before: its absence is then a verdict, not a silence
symbols_expected as (

    select symbol from symbol_settings
    where is_expected_daily
    {% for symbol in var('expected_symbols', []) %}
    union select {{ lakeqa_quote(lakeqa_checked_symbol(symbol)) }}
    {% endfor %}

),

-- per symbol and day of the window, the newest earlier day within the lookback on which the lake held its
-- trades (or prebuilt bars): the symbol is expected that day, and a reason can say since when it is missing
window_days as (

    select distinct cast(ts as date) as date from periods

),

symbols_seen_before as (

    select
        lake_partitions.symbol,
        window_days.date,
        max(lake_partitions.date) as last_seen_date
    from lake_partitions
    inner join window_days
        on lake_partitions.date < window_days.date
            and lake_partitions.date >= window_days.date - interval {{ lookback_days }} day
    where lake_partitions.dataset in ('trades', 'bars_1s')
    group by all

),

symbol_periods_seen as (

    select distinct
        symbol,
        date_trunc('{{ period }}', ts) as ts
    from bars_in_window
    union
    select distinct
        symbol,
        date_trunc('{{ period }}', ts) as ts
    from violations
    union
    select distinct
        symbol,
        date_trunc('{{ period }}', ts) as ts
    from anomalies
    union
    select
        symbols_expected.symbol,
        periods.ts
    from symbols_expected cross join periods
    union
    select
        symbols_seen_before.symbol,
        periods.ts
    from symbols_seen_before
    inner join periods on symbols_seen_before.date = cast(periods.ts as date)

),

-- only periods that start inside the window: an hourly run judges whole hours, and replaces exactly them
symbol_periods as (

    select symbol_periods_seen.*
    from symbol_periods_seen
    inner join periods using (ts)

),

bar_counts as (

    select
        symbol,
        date_trunc('{{ period }}', ts) as ts,
        count(*) as n_bars
    from bars_in_window
    group by all

),

violation_counts as (

    select
        symbol,
        date_trunc('{{ period }}', ts) as ts,
        count(*) filter (where severity = 'critical') as n_violations_critical,
        count(*) filter (where severity = 'major') as n_violations_major,
        count(*) filter (where severity = 'minor') as n_violations_minor,
        {{ lakeqa_sorted_list('rule', "severity = 'critical'", distinct=true) }} as critical_rules,
        {{ lakeqa_sorted_list('rule', "severity = 'major'", distinct=true) }} as major_rules,
        {{ lakeqa_sorted_list('rule', "severity = 'minor'", distinct=true) }} as minor_rules
    from violations
    group by all

),

-- per rule: how many, where, and its largest failure's own words (a gap's detail names its range and size)
violation_rules as (

    select
        symbol,
        date_trunc('{{ period }}', ts) as ts,
        severity,
        rule,
        count(*) as n,
        min(ts) as first_ts,
        max(coalesce(ts_end, ts + interval 1 second)) as last_end,
        max({{ lakeqa_seconds_between('ts', 'coalesce(ts_end, ts)') }}) as longest_s,
        {{ lakeqa_arg_max('detail', [lakeqa_seconds_between('ts', 'coalesce(ts_end, ts)'), '-' ~ lakeqa_epoch('ts')]) }}
            as top_detail
    from violations
    group by all

),

violation_rule_summaries as (

    select
        *,
        rule || case
            when n > 1 then ' x' || n || ' ' || {{ lakeqa_utc_range('first_ts', 'last_end') }} || ', the largest: '
            else ': '
        end || top_detail as summary,  -- noqa: RF04
        -- what a reason names first: completeness (what did not arrive), then the longest, then the most
        row_number() over (
            partition by symbol, ts, severity
            order by {{ lakeqa_starts_with('rule', 'C') }} desc, longest_s desc, n desc, rule asc
        ) as rank_in_severity,
        row_number() over (
            partition by symbol, ts
            order by n desc, rule asc
        ) as rank_by_count
    from violation_rules

),

violation_headlines as (

    select
        symbol,
        ts,
        max(summary) filter (where severity = 'critical' and rank_in_severity = 1) as critical_headline,
        max(summary) filter (where severity = 'major' and rank_in_severity = 1) as major_headline,
        max(summary) filter (where rank_by_count = 1) as most_frequent,
        {{ lakeqa_ordered_join("rule || ' (' || n || ')'", ', ', 'rank_in_severity',
                               "severity = 'critical' and rank_in_severity > 1") }} as other_critical,
        {{ lakeqa_ordered_join("rule || ' (' || n || ')'", ', ', 'rank_in_severity',
                               "severity = 'major' and rank_in_severity > 1") }} as other_major
    from violation_rule_summaries
    group by all

),

-- the trade stream's history in the lake: 0 on the first day a symbol appears (nothing to compare with)
trade_history as (

    select
        symbol,
        ts,
        max(hist_days_in_lake) as history_days
    from coverage
    where dataset in ('trades', 'bars_1s')
    group by all

),

anomaly_counts as (

    select
        symbol,
        date_trunc('{{ period }}', ts) as ts,
        count(*) as n_anomaly_records,
        -- a clustered record stands for cluster.count raw events
        sum(coalesce(cast({{ lakeqa_json_get('cluster', '$.count') }} as bigint), 1)) as n_anomalies,
        max(confidence) as max_confidence
    from anomalies
    group by all

),

anomaly_counts_by_detector as (

    select
        symbol,
        date_trunc('{{ period }}', ts) as ts,
        detector,
        sum(coalesce(cast({{ lakeqa_json_get('cluster', '$.count') }} as bigint), 1)) as n
    from anomalies
    group by all

),

anomalies_by_detector as (

    -- ordered by detector: the same day gives the same bytes, whatever order the rows came in
    select
        symbol,
        ts,
        {{ lakeqa_json_count_map('detector', 'n') }} as by_detector
    from anomaly_counts_by_detector
    group by all

),

counts as (

    select
        symbol_periods.symbol,
        symbol_periods.ts,
        coalesce(bar_counts.n_bars, 0) as n_bars,
        coalesce(violation_counts.n_violations_critical, 0) as n_violations_critical,
        coalesce(violation_counts.n_violations_major, 0) as n_violations_major,
        coalesce(violation_counts.n_violations_minor, 0) as n_violations_minor,
        coalesce(violation_counts.critical_rules, {{ lakeqa_array([]) }}) as critical_rules,
        coalesce(violation_counts.major_rules, {{ lakeqa_array([]) }}) as major_rules,
        coalesce(violation_counts.minor_rules, {{ lakeqa_array([]) }}) as minor_rules,
        coalesce(anomaly_counts.n_anomaly_records, 0) as n_anomaly_records,
        coalesce(anomaly_counts.n_anomalies, 0) as n_anomalies,
        coalesce(anomaly_counts.max_confidence, 0) as max_anomaly_confidence,
        coalesce(anomalies_by_detector.by_detector, '{}') as anomalies_by_detector,
        violation_headlines.critical_headline,
        violation_headlines.major_headline,
        violation_headlines.most_frequent,
        violation_headlines.other_critical,
        violation_headlines.other_major,
        coalesce(trade_history.history_days, 0) as history_days,
        symbols_seen_before.last_seen_date,
        iforest_baselines.baseline as iforest_baseline,
        iforest_baselines.n_training_bars as iforest_training_bars
    from symbol_periods
    left join bar_counts using (symbol, ts)
    left join violation_counts using (symbol, ts)
    left join anomaly_counts using (symbol, ts)
    left join anomalies_by_detector using (symbol, ts)
    left join violation_headlines using (symbol, ts)
    left join trade_history using (symbol, ts)
    left join symbols_seen_before
        on symbol_periods.symbol = symbols_seen_before.symbol
            and cast(symbol_periods.ts as date) = symbols_seen_before.date
    -- where IsolationForest does not run (lakeqa_iforest_runs) no forest judged the day: nothing to say
    -- about its baseline
    left join iforest_baselines
        on symbol_periods.symbol = iforest_baselines.symbol
            and cast(symbol_periods.ts as date) = iforest_baselines.date
            and {{ 'true' if lakeqa_iforest_runs() else 'false' }}

),

components as (

    select
        *,
        -- what the detectors flag on clean data by construction (IsolationForest's contamination) or by
        -- their measured background rate; only anomalies beyond the allowance count
        n_bars * {{ background_rate }} as expected_anomalies,
        -- IsolationForest's threshold comes from each symbol's training days, so a clean day that differs a
        -- little from them flags more or less than contamination: var fusion.background_tolerance allows for it
        {{ fusion.background_tolerance }} * n_bars * {{ background_rate }}
        + 3 * sqrt(n_bars * {{ background_rate }}) as anomaly_allowance
    from counts

),

scores as (

    select
        *,
        greatest(0, n_anomalies - anomaly_allowance) as excess_anomalies,
        {{ lakeqa_schema_score('n_violations_critical', 'n_violations_major', 'n_violations_minor') }} as schema_score,
        1.0 / (
            1 + greatest(0, n_anomalies - anomaly_allowance) / {{ fusion.detector_excess_scale }}
        ) as detector_score,
        case when n_anomalies > anomaly_allowance then 1 - max_anomaly_confidence else 1.0 end as ai_confidence,
        -- a passing day judged by a forest without clean history, or by no forest at all, says so (never a
        -- silent green)
        case
            when iforest_baseline = 'cold_start' and iforest_training_bars = 0
                then 'IsolationForest cold start: no clean history of ' || symbol
                    || ' in the {{ iforest_training_days }} days before, so it was fitted on the day itself'
            when iforest_baseline = 'cold_start'
                then 'IsolationForest cold start: only ' || iforest_training_bars || ' clean bars of ' || symbol
                    || ' in the {{ iforest_training_days }} days before, so it was fitted on the day itself'
            {%- if iforest_off_reason %}
            -- where IsolationForest does not run, no baseline is joined (counts)
            else {{ lakeqa_quote(iforest_off_reason) }}
            {%- endif %}
        end as iforest_note
    from components

),

verdicts as (

    select
        *,
        case
            when n_bars = 0 then 0.0
            else {{ fusion.weight_schema }} * schema_score
                + {{ fusion.weight_detector }} * detector_score
                + {{ fusion.weight_ai }} * ai_confidence
        end as score
    from scores

),

final as (

    select
        ts,
        cast(ts as date) as date,
        symbol,
        '{{ window.mode }}' as mode,
        case
            when n_bars = 0 then 'FAIL'
            when n_violations_critical > 0 or score < {{ fusion.review_score }} then 'FAIL'
            when n_violations_major > 0 or score < {{ fusion.pass_score }} then 'REVIEW'
            else 'PASS'
        end as verdict,
        round(score, 6) as score,
        round(schema_score, 6) as schema_score,
        round(detector_score, 6) as detector_score,
        round(ai_confidence, 6) as ai_confidence,
        n_bars,
        n_violations_critical,
        n_violations_major,
        n_violations_minor,
        n_anomalies,
        n_anomaly_records,
        case
            -- a quarantined lake file first: it is why the period may have no bars at all
            when {{ lakeqa_starts_with('critical_headline', 'C10_QUARANTINED_FILE') }}
                then critical_headline || coalesce('; also critical: ' || other_critical, '')
            {% if period == 'day' %}
            when n_bars = 0 and last_seen_date is not null
                then 'no data: ' || symbol || ' has no bars this day; no data since '
                    || {{ lakeqa_format_ts('last_seen_date', '%Y-%m-%d') }}
                    || ', the last day the lake holds its trades'
            {% else %}
            when n_bars = 0 and last_seen_date is not null
                then 'no data: ' || symbol || ' has no bars in this hour (the lake held its trades on '
                    || {{ lakeqa_format_ts('last_seen_date', '%Y-%m-%d') }} || ')'
            {% endif %}
            when n_bars = 0
                then 'no data: ' || symbol || ' is expected (symbol_settings or var expected_symbols)'
                    || ' but has no bars in this {{ period }}'
            when n_violations_critical > 0
                then critical_headline || coalesce('; also critical: ' || other_critical, '')
            when score < {{ fusion.review_score }}
                then 'score ' || round(score, 3) || ' below {{ fusion.review_score }}: '
                    || coalesce(
                        major_headline || coalesce('; also major: ' || other_major, ''), most_frequent,
                        n_anomalies || ' anomalies, ' || round(anomaly_allowance, 1) || ' expected at most'
                    )
            when n_violations_major > 0
                then major_headline || coalesce('; also major: ' || other_major, '')
            when score < {{ fusion.pass_score }}
                then 'score ' || round(score, 3) || ' below {{ fusion.pass_score }}: '
                    || case
                        when excess_anomalies > 0
                            then n_anomalies || ' anomalies, ' || round(anomaly_allowance, 1) || ' expected at most'
                        else coalesce(most_frequent, 'minor violations')
                    end
            when n_violations_minor > 0
                then 'pass with ' || n_violations_minor || ' minor violation(s): ' || most_frequent
                    || coalesce('; ' || iforest_note, '')
            when history_days = 0
                then 'pass (the first day of '
                    || symbol
                    || ' in the lake: no history to compare rows and datasets with'
                    || case
                        when iforest_baseline = 'cold_start'
                            then ', nor to train IsolationForest on: a cold start fitted on the day itself'
                        when iforest_note is not null then '; ' || iforest_note
                        else ''
                    end
                    || ')'
            when iforest_note is not null
                then 'pass (' || iforest_note || ')'
            else 'pass'
        end as reason,
        {{ lakeqa_json_text(lakeqa_struct({
            'n_bars': 'n_bars',
            'violations': lakeqa_struct({'critical': 'n_violations_critical', 'major': 'n_violations_major',
                                         'minor': 'n_violations_minor'}),
            'rules': lakeqa_struct({'critical': 'critical_rules', 'major': 'major_rules', 'minor': 'minor_rules'}),
            'history_days': 'history_days',
            'iforest_baseline': 'iforest_baseline',
            'anomalies': 'n_anomalies',
            'anomaly_records': 'n_anomaly_records',
            'anomalies_by_detector': lakeqa_json_embed('anomalies_by_detector'),
            'expected_anomalies': 'round(expected_anomalies, 3)',
            'anomaly_allowance': 'round(anomaly_allowance, 3)',
            'excess_anomalies': 'round(excess_anomalies, 3)',
            'schema_score': 'round(schema_score, 6)',
            'detector_score': 'round(detector_score, 6)',
            'ai_confidence': 'round(ai_confidence, 6)',
            'weights': lakeqa_struct({
                'schema': fusion.weight_schema | string,
                'detector': fusion.weight_detector | string,
                'ai': fusion.weight_ai | string
            })
        })) }} as metadata
    from verdicts

)

select * from final
order by ts, symbol
