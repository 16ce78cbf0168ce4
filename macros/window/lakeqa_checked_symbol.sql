{# lakeqa_checked_symbol(value) -> the symbol, if it is a Binance symbol (letters and digits); else an error. #}
{% macro lakeqa_checked_symbol(value) %}
    {% set text = (value | string) | trim | upper %}
    {% if not modules.re.fullmatch('[A-Z0-9]{2,30}', text) %}
        {{ exceptions.raise_compiler_error("lakeqa: " ~ (value | string | tojson) ~ " is not a Binance symbol (letters and digits, e.g. BTCUSDT)") }}
    {% endif %}
    {{ return(text) }}
{% endmacro %}
