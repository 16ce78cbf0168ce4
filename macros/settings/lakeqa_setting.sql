{#
    lakeqa_setting(name) -> the value of setting `name` (a var of dbt_project.yml, where its default lives).

    Grouped settings are flat vars named group.key (zscore.k, fusion.pass_score): dbt replaces a mapping
    var whole, so one nested default would lose all its other keys when a single one was overridden.
    An override may be flat or nested, and sets that one key alone:
        --vars '{fusion.pass_score: 0.9}'
        --vars '{fusion: {pass_score: 0.9}}'      (nested wins over flat when both are given)
    A nested override naming a key the group does not have is an error (a typo would otherwise be ignored).
    lakeqa's Python steps resolve settings by the same rules (lakeqa.settings.resolve_settings).

    Example: {{ lakeqa_setting('zscore.k') }}
#}
{% macro lakeqa_setting(name) %}
    {% if '.' not in name %}
        {{ return(var(name)) }}
    {% endif %}
    {% set group, key = name.split('.', 1) %}
    {% set nested = var(group, none) %}
    {% if nested is not none %}
        {% if nested is not mapping %}
            {{ exceptions.raise_compiler_error("lakeqa: var '" ~ group ~ "' is a group of settings; override one key"
                ~ " as {" ~ group ~ ": {" ~ key ~ ": ...}} or {" ~ name ~ ": ...}, got " ~ (nested | string | tojson)) }}
        {% endif %}
        {% for given in nested %}
            {% if var(group ~ '.' ~ given, none) is none %}
                {{ exceptions.raise_compiler_error("lakeqa: unknown setting '" ~ group ~ "." ~ given
                    ~ "' (no var of that name in dbt_project.yml)") }}
            {% endif %}
        {% endfor %}
        {% if key in nested %}
            {{ return(nested[key]) }}
        {% endif %}
    {% endif %}
    {{ return(var(name)) }}
{% endmacro %}


{#
    lakeqa_setting_number(name) -> lakeqa_setting(name) as a float, or a compile error naming the setting
    (a value from --vars reaches SQL as a number, never as text).
#}
{% macro lakeqa_setting_number(name) %}
    {% set value = lakeqa_setting(name) %}
    {% if value is number and value is not boolean %}
        {{ return(value | float) }}
    {% endif %}
    {% if value is string and modules.re.fullmatch('[-+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][-+]?[0-9]+)?', value | trim) %}
        {{ return(value | trim | float) }}
    {% endif %}
    {{ exceptions.raise_compiler_error("lakeqa: setting '" ~ name ~ "' must be a number, got " ~ (value | string | tojson)) }}
{% endmacro %}


{#
    lakeqa_setting_boolean(name) -> lakeqa_setting(name) as a boolean (true/false, also as text from --vars),
    or a compile error naming the setting.
#}
{% macro lakeqa_setting_boolean(name) %}
    {% set value = lakeqa_setting(name) %}
    {% if value is boolean %}
        {{ return(value) }}
    {% endif %}
    {% if value is string and value | trim | lower in ('true', 'false') %}
        {{ return(value | trim | lower == 'true') }}
    {% endif %}
    {{ exceptions.raise_compiler_error("lakeqa: setting '" ~ name ~ "' must be true or false, got " ~ (value | string | tojson)) }}
{% endmacro %}
