{#
    lakeqa_quarantined_files() -> the lake files `lakeqa run` keeps out of this build, as a list of
    {file, dataset, symbol, date, column, reason} (src/lakeqa/quarantine.py writes them, as JSON, into env var
    LAKEQA_QUARANTINE). The lake macros leave these files out of every read; completeness_checks reports
    each as C10_QUARANTINED_FILE. Empty for a plain `dbt build`, whose schema check stops at a bad file.

    Example:
      {% for q in lakeqa_quarantined_files() %} {{ q.file }} {% endfor %}
#}
{% macro lakeqa_quarantined_files() %}
    {% set entries = fromjson(env_var('LAKEQA_QUARANTINE', '[]')) %}
    {% if entries is not sequence or entries is string %}
        {{ exceptions.raise_compiler_error("lakeqa: env var LAKEQA_QUARANTINE must be a JSON list") }}
    {% endif %}
    {{ return(entries) }}
{% endmacro %}
