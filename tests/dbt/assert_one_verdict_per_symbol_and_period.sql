{# fusion holds one verdict per symbol, period and mode: re-running a window replaces, never duplicates. #}

select symbol, ts, mode, count(*) as n_verdicts
from {{ ref('fusion') }}
group by all
having count(*) > 1
