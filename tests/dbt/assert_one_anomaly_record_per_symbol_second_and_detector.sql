{# A detector reports a symbol's second at most once in the run's window (clusters are one record). #}

select symbol, ts, detector, count(*) as n_records
from {{ ref('anomalies') }}
where {{ lakeqa_in_window('ts') }}
group by all
having count(*) > 1
