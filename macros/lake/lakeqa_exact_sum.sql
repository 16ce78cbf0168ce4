{#
    lakeqa_exact_sum(expr) -> the sum of a DOUBLE expression, added exactly (as DECIMAL(38, 18)) and
    returned as DOUBLE: the result does not depend on the order rows arrive in (which follows hash tables
    and threads), so a day rebuilt, alone or in a range, gives the same bytes. A NaN or infinite value
    makes the sum NaN, as plain floating-point addition would; NULLs are skipped.

    Example:
      select symbol, {{ lakeqa_exact_sum('qty') }} as volume_base from trades group by symbol
#}
{% macro lakeqa_exact_sum(expr) -%}
    case
        when bool_or(not isfinite({{ expr }})) then cast('nan' as double)
        else cast(sum(cast(case when isfinite({{ expr }}) then {{ expr }} end as decimal(38, 18))) as double)
    end
{%- endmacro %}
