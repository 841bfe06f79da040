{#-
    lookback_mask(expr, first_rn, order_by='rn')

    `expr` where the session index `order_by` >= first_rn, NULL before: aligns an intermediate line to the
    first valid row of the TA-Lib function that publishes it. Needed where TA-Lib trims an output that is
    valid earlier inside the computation: MACD's line (valid from 25, published from 33) and STOCH's slow
    %K (valid from 15, published from 17). Plain expression, usable in any stage.
-#}
{% macro lookback_mask(expr, first_rn, order_by='rn') -%}
    if({{ order_by }} >= {{ first_rn }}, {{ expr }}, null)
{%- endmacro %}
