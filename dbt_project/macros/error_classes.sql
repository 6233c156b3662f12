{#- Why a request failed, in one place (docs/metrics.md, "Error classes"). Every
    unsuccessful request gets exactly one class; a success none. Each source adapter
    maps its own fields into the record's http_status and error_type
    (ingest/sources/, docs/sources.md); the class is derived from those two here only.
    Plain Jinja over column names, like macros/derived_fields.sql. -#}

{#- The classes, in the order the page stacks and the report lists them. Each is a
    measure `<class>_errors` of the usage facts (macros/usage_measures.sql) and a column
    of mart_errors. -#}
{% macro error_classes() -%}
    {{ return(['rate_limited', 'auth', 'bad_request', 'content_filtered', 'timeout',
               'provider_error', 'cancelled', 'other']) }}
{%- endmacro %}

{#- The error_type words that name a class when the status code does not decide (no
    status, or one no rule below names): case-insensitive substrings of error_type,
    covering our own names (rate_limited, upstream_timeout), LiteLLM's exception classes
    (RateLimitError, Timeout, AuthenticationError, BadRequestError,
    ContentPolicyViolationError, InternalServerError, ServiceUnavailableError) and
    OpenRouter's finish reasons. -#}
{% macro error_type_words() -%}
    {{ return({
        'content_filtered': ['content_filter', 'contentpolicy', 'content_policy', 'safety', 'moderation'],
        'timeout': ['timeout', 'timed_out', 'timed out', 'deadline'],
        'cancelled': ['cancel', 'client_closed', 'aborted'],
        'rate_limited': ['ratelimit', 'rate_limit', 'rate limit', 'too_many_requests', 'quota'],
        'auth': ['auth', 'permission', 'forbidden', 'unauthorized', 'api_key'],
        'bad_request': ['badrequest', 'bad_request', 'invalid', 'notfound', 'not_found',
                        'context_length', 'contextwindow', 'context_window', 'unprocessable',
                        'too_large', 'unsupported'],
        'provider_error': ['internal', 'server_error', 'serviceunavailable', 'service_unavailable',
                           'overloaded', 'upstream', 'apiconnection', 'api_connection', 'badgateway',
                           'bad_gateway'],
    }) }}
{%- endmacro %}

{% macro error_type_matches(error_type, class) -%}
    ({%- for word in error_type_words()[class] -%}
    instr(lower({{ error_type }}), '{{ word }}') > 0{{ " or " if not loop.last }}
    {%- endfor -%})
{%- endmacro %}

{#- The class of one request; NULL for a success. The rules, first match wins:
    content_filtered by its error_type words (providers answer it with 400 or 200);
    429 rate_limited; 401, 403 auth; 408, 504 or timeout words timeout; 499 or cancel
    words cancelled; 400, 404, 413, 422 bad_request; other 5xx provider_error; then, for
    any other status or none, the error_type words of rate_limited, auth, bad_request,
    provider_error; else other. -#}
{% macro error_class(status='status', http_status='http_status', error_type='error_type') -%}
    case
        when {{ status }} = 'success' then null
        when {{ error_type_matches(error_type, 'content_filtered') }} then 'content_filtered'
        when {{ http_status }} = 429 then 'rate_limited'
        when {{ http_status }} in (401, 403) then 'auth'
        when {{ http_status }} in (408, 504) or {{ error_type_matches(error_type, 'timeout') }} then 'timeout'
        when {{ http_status }} = 499 or {{ error_type_matches(error_type, 'cancelled') }} then 'cancelled'
        when {{ http_status }} in (400, 404, 413, 422) then 'bad_request'
        when {{ http_status }} between 500 and 599 then 'provider_error'
        when {{ error_type_matches(error_type, 'rate_limited') }} then 'rate_limited'
        when {{ error_type_matches(error_type, 'auth') }} then 'auth'
        when {{ error_type_matches(error_type, 'bad_request') }} then 'bad_request'
        when {{ error_type_matches(error_type, 'provider_error') }} then 'provider_error'
        else 'other'
    end
{%- endmacro %}
