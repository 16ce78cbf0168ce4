{#
    lakeqa_sql_detector_records(kind) -> the records of the z-score detectors (kind 'zscore') or of JUMP
    (kind 'jump') as one SQL query: the spark target's anomalies_zscore and anomalies_jump
    (models/detectors/spark/), where dbt-spark cannot run the Python models (dbt-spark#415).

    The same judgement as src/lakeqa/detectors/ (background.py, zscore.py, jump.py, labeler.py), which stays
    the reference on DuckDB: make spark-check compares the two record by record.
    - candidates: the rows of bar_scores the detector scored with abs_z above its k;
    - threshold of a symbol, day and detector: max(k, detectors.background_margin x the median of the
      largest clean |z| of the symbol's training-eligible days among the detectors.training_days before,
      in detector_background), or k alone at a cold start (fewer than detectors.min_training_days);
    - events above the threshold chain into one record while each is within jump.cooldown_seconds (<=) of
      the previous one (0: no clustering); a record is the first event's bar and score, with a `cluster`
      {count, start_ts, end_ts, max_abs_z} when it merges two or more;
    - confidence |z| / (|z| + threshold); score and confidence rounded to 6 decimals half to even, as numpy.
    Spark SQL: Java's Formatter spells the rationale's numbers (12.5 as 12.5000 before the trailing zeros
    are dropped, 1e-05 as 1.00000e-05) and Spark's to_json the JSON's (1.0E-5): the texts read alike, but
    are not byte-equal to DuckDB's (README "Running on Spark").
#}
{% macro lakeqa_sql_detector_records(kind) %}
{%- set k = lakeqa_setting_number('zscore.k' if kind == 'zscore' else 'jump.k_sigma') -%}
{%- set cooldown = lakeqa_setting_number('jump.cooldown_seconds') -%}
{%- set training_days = lakeqa_setting_number('detectors.training_days') | int -%}
{%- set min_training_days = lakeqa_setting_number('detectors.min_training_days') | int -%}
{%- set margin = lakeqa_setting_number('detectors.background_margin') -%}
{%- if training_days < 1 or not (1 <= min_training_days <= training_days) or margin <= 0 -%}
    {{ exceptions.raise_compiler_error("lakeqa: detectors.training_days must be >= 1, detectors.min_training_days"
        ~ " between 1 and it and detectors.background_margin > 0, got " ~ training_days ~ ", "
        ~ min_training_days ~ " and " ~ margin) }}
{%- endif -%}
{%- set k_sql = "cast('" ~ k ~ "' as double)" -%}
{%- set margin_sql = "cast('" ~ margin ~ "' as double)" -%}

with

candidates as (

    select
        *,
        cast(date_trunc('day', ts) as date) as day
    from {{ ref('bar_scores') }}
    where {{ "detector like 'ZSCORE%'" if kind == 'zscore' else "detector = 'JUMP'" }}
        and scored
        and abs_z > {{ k_sql }}
        and {{ 'true' if var('enable_ai') else 'false' }}

),

judged_days as (

    select distinct
        symbol,
        day,
        detector
    from candidates

),

-- the days a symbol may learn from: the same eligible days IsolationForest trains on
eligible_days as (

    select distinct
        symbol,
        date
    from {{ ref('iforest_training_days') }}
    where is_training_eligible

),

background as (

    select
        background.symbol,
        background.date,
        background.detector,
        background.max_abs_z
    from {{ ref('detector_background') }} as background
    {{ lakeqa_semi_join() }} eligible_days
        on background.symbol = eligible_days.symbol
            and background.date = eligible_days.date
    where background.n_scored > 0
        and {{ lakeqa_isfinite('background.max_abs_z') }}

),

learned_bounds as (

    select
        judged_days.symbol,
        judged_days.day,
        judged_days.detector,
        count(background.max_abs_z) as n_training_days,
        {{ margin_sql }} * median(background.max_abs_z) as bound
    from judged_days
    left join background
        on judged_days.symbol = background.symbol
            and judged_days.detector = background.detector
            and background.date < judged_days.day
            and background.date >= judged_days.day - {{ training_days }}
    group by all

),

thresholds as (

    select
        symbol,
        day,
        detector,
        n_training_days,
        bound,
        n_training_days >= {{ min_training_days }} as exceeds_background,
        case
            when n_training_days >= {{ min_training_days }} then greatest({{ k_sql }}, bound)
            else {{ k_sql }}
        end as threshold
    from learned_bounds

),

events as (

    select
        candidates.*,
        thresholds.threshold,
        thresholds.n_training_days,
        thresholds.exceeds_background,
        lag(candidates.ts) over (partition by candidates.symbol, candidates.detector order by candidates.ts)
            as previous_ts
    from candidates
    inner join thresholds
        on candidates.symbol = thresholds.symbol
            and candidates.day = thresholds.day
            and candidates.detector = thresholds.detector
    where candidates.abs_z > thresholds.threshold

),

numbered_events as (

    select
        *,
        sum(
            case
                {%- if cooldown > 0 %}
                when previous_ts is not null
                    and {{ lakeqa_seconds_between('previous_ts', 'ts') }} <= {{ cooldown }} then 0
                {%- endif %}
                else 1
            end
        ) over (partition by symbol, detector order by ts rows between unbounded preceding and current row)
            as cluster_number,
        row_number() over (partition by symbol, detector order by ts) as event_number
    from events

),

clusters as (

    select
        symbol,
        detector,
        cluster_number,
        min(event_number) as first_event_number,
        count(*) as n_events,
        min(ts) as start_ts,
        max(ts) as end_ts,
        max(abs_z) as max_abs_z
    from numbered_events
    group by all

),

records as (

    select
        events.*,
        clusters.n_events,
        clusters.start_ts,
        clusters.end_ts,
        clusters.max_abs_z
    from numbered_events as events
    inner join clusters
        on events.symbol = clusters.symbol
            and events.detector = clusters.detector
            and events.event_number = clusters.first_event_number

),

notes as (

    select
        *,
        case
            when exceeds_background
                then 'threshold ' || {{ lakeqa_sig('threshold', 3) }} || ' = max(k {{ '%g' | format(k) }}, '
                    || '{{ '%g' | format(margin) }} x the median of the largest clean |z| of '
                    || n_training_days || ' earlier days)'
            else {{ lakeqa_quote('threshold ' ~ ('%g' | format(k)) ~ ' (cold start: fewer than the clean earlier days '
                ~ "needed to learn this symbol's background)") }}
        end as threshold_note,
        case
            when n_events > 1
                then '; cluster of ' || n_events || ' events ' || {{ lakeqa_format_ts('start_ts', '%H:%M:%S') }}
                    || '-' || {{ lakeqa_format_ts('end_ts', '%H:%M:%S') }} || ' UTC, max |z| '
                    || {{ lakeqa_sig('max_abs_z', 3) }}
            else ''
        end as cluster_note
    from records

),

final as (

    select
        symbol,
        ts,
        day as date,
        detector,
        {%- if kind == 'zscore' %}
        case detector
            when 'ZSCORE_SPREAD_BP' then case when z >= 0 then 'wide_spread' else 'tight_spread' end
            when 'ZSCORE_LOG_VOLUME' then case when z >= 0 then 'volume_spike' else 'volume_drop' end
            else 'vwap_drift'
        end as label,
        feature || ' z-score ' || format_string('%.2f', z) || ' exceeds threshold '
            || {{ lakeqa_sig('threshold', 3) }} || ' in absolute value (value ' || {{ lakeqa_sig('feature_value', 6) }}
            || ' vs trailing-hour center ' || {{ lakeqa_sig('trailing_center', 6) }}
            || ', sigma ' || {{ lakeqa_sig('sigma', 6) }}
            || case
                when {{ lakeqa_isfinite('trailing_scale') }} and sigma > trailing_scale
                    then ', floored from the robust scale ' || {{ lakeqa_sig('trailing_scale', 6) }}
                else ''
            end
            || ', over ' || trailing_n || ' bars); ' || threshold_note || cluster_note as rationale,
        {%- else %}
        'price_jump' as label,
        'return_1s ' || {{ lakeqa_sig('return_1s * 100', 4, signed=true) }} || '% is ' || format_string('%.2f', abs_z)
            || ' trailing-hour bipower sigmas (sigma ' || {{ lakeqa_sig('sigma * 1e4', 4) }} || ' bp), above threshold '
            || {{ lakeqa_sig('threshold', 3) }} || '; ' || trade_count || ' trades, spread '
            || case
                when {{ lakeqa_isfinite('spread_bp') }} then {{ lakeqa_sig('spread_bp', 4) }} || ' bp'
                else 'unknown (no fresh quote)'
            end
            || '; ' || threshold_note || cluster_note as rationale,
        {%- endif %}
        -- numpy's round (half to even of x * 1e6), as the Python detectors' records
        rint(abs_z / (abs_z + threshold) * 1e6) / 1e6 as confidence,
        rint(abs_z * 1e6) / 1e6 as score,
        {{ lakeqa_json_text(lakeqa_struct({
            'spread_bp': lakeqa_json_double('spread_bp'),
            'log_volume': lakeqa_json_double('log_volume'),
            'vwap_drift_bp': lakeqa_json_double('vwap_drift_bp'),
            'return_1s': lakeqa_json_double('return_1s'),
            'trade_count': 'trade_count',
            'z_score': lakeqa_json_double('z'),
        })) }} as features,
        case
            when n_events > 1
                then {{ lakeqa_json_text(lakeqa_struct({
                    'count': 'n_events',
                    'start_ts': "date_format(start_ts, \"yyyy-MM-dd'T'HH:mm:ss'Z'\")",
                    'end_ts': "date_format(end_ts, \"yyyy-MM-dd'T'HH:mm:ss'Z'\")",
                    'max_abs_z': lakeqa_json_double('max_abs_z'),
                })) }}
        end as cluster,
        case when exceeds_background then 'history' else 'cold_start' end as baseline,
        exceeds_background
    from notes

)

select * from final
{% endmacro %}


{#
    Spark SQL text helpers of lakeqa_sql_detector_records:
    lakeqa_sig(expr, digits, signed) -> expr as text with `digits` significant digits (Java's %g with its
    trailing zeros dropped; a leading + with signed), 'n/a' for NULL, NaN and infinities.
    lakeqa_json_double(expr) -> expr rounded to 8 significant digits for JSON, NULL when not finite.
#}
{% macro lakeqa_sig(expr, digits, signed=false) -%}
    case
        when {{ lakeqa_isfinite(expr) }}
            then regexp_replace(
                regexp_replace(format_string('%{{ "+" if signed else "" }}.{{ digits }}g', {{ expr }}),
                               '([.][0-9]*[1-9])0+(e|$)', '$1$2'),
                '[.]0+(e|$)', '$1'
            )
        else 'n/a'
    end
{%- endmacro %}


{% macro lakeqa_json_double(expr) -%}
    case when {{ lakeqa_isfinite(expr) }} then cast(format_string('%.8g', {{ expr }}) as double) end
{%- endmacro %}
