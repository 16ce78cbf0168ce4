-- The symbol-days that need a person first: every non-PASS verdict with its reasons and rule counts.
-- Compile with `dbt compile --select worst_symbol_days` and run the SQL in DuckDB, or adapt it.

with

fusion as (

    select * from {{ ref('fusion') }}

),

violations_by_rule as (

    select
        symbol,
        date,
        rule,
        count(*) as n_violations
    from {{ ref('violations') }}
    group by all

)

select
    fusion.date,
    fusion.symbol,
    fusion.verdict,
    fusion.score,
    fusion.reason,
    list(
        violations_by_rule.rule || ' x' || violations_by_rule.n_violations
        order by violations_by_rule.rule
    ) as rules
from fusion
left join violations_by_rule
    on fusion.symbol = violations_by_rule.symbol
        and fusion.date = violations_by_rule.date
where fusion.mode = 'daily'
    and fusion.verdict != 'PASS'
group by all
order by fusion.date desc, fusion.score asc
