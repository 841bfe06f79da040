{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['code', 'date'],
        engine='MergeTree()',
        order_by='(code, date)',
        partition_by='toYear(date)',
        query_settings={'join_use_nulls': 1},
    )
}}

{#-
    Rebuilds the half-open window [min_date, max_date) (Dagster passes a partition's window as --vars), reaching
    back 45 days further because the `target_*` labels of the last 20 sessions become known only now (the
    feature_window macro). Features are point in time, so every re-built row equals the full refresh's row.
-#}
{%- set window = feature_window() %}

with

days as (
    select * from {{ ref('int_listed_days') }}
    where date >= {{ window.min }} and date < {{ window.max }}
),

-- The wide session rows stream through joins whose build sides (the right, hashed in memory) are narrow: the days
-- here, the cross-sectional features below. No sort and no hash table holds the ~80 indicator columns of the whole
-- history, hence a RIGHT JOIN. An incremental run reads only the sessions its days point to.
indicators as (
    select
        days.code as code,
        days.date as date,
        days.session_date as session_date,
        days.sector33_code as sector33_code,
        days.section as section,
        sessions.* except (code, date)
    from (
        select * from {{ ref('int_sessions_indicators') }}
        {%- if window.bounded %}
            where date >= (select min(session_date) from days)
        {%- endif %}
    ) as sessions
    right join days on sessions.code = days.code and sessions.date = days.session_date  -- noqa: CV08
),

cross_sectional as (
    select
        code as cs_code,
        date as cs_date,
        {% for col in ['ret_5d', 'ret_20d', 'vol_20d'] -%}
            {{ col }} - median({{ col }}) over (partition by date, sector33_code) as sector_rel_{{ col }},
        {% endfor -%}
        {% for col in ['ret_5d', 'ret_20d', 'ret_60d', 'vol_20d', 'volume_ratio_20', 'rsi_14'] -%}
            {{ cross_sectional_rank(col) }} as cs_rank_{{ col }},
        {% endfor -%}
        {{ cross_sectional_rank('ret_20d', partition_by='date, sector33_code') }} as sector_rank_ret_20d
    from days
),

-- renamed before the join: columns sharing a name with the other side would leave `indicators.*` qualified
topix as (
    select
        date as topix_date,
        ret_1d as topix_ret_1d,
        ret_20d as topix_ret_20d,
        ret_60d as topix_ret_60d
    from {{ ref('fct_topix_daily') }}
),

with_context as (
    select
        indicators.code as code,
        indicators.date as date,
        indicators.* except (code, date),
        topix.topix_ret_1d as topix_ret_1d,
        topix.topix_ret_20d as topix_ret_20d,
        topix.topix_ret_60d as topix_ret_60d,
        flows.foreigners_net_ratio as flow_foreigners_net_ratio,
        flows.foreigners_net_z as flow_foreigners_net_z,
        flows.individuals_net_z as flow_individuals_net_z,
        statements.sales_yoy as stmt_sales_yoy,
        statements.operating_profit_yoy as stmt_operating_profit_yoy,
        statements.roe as stmt_roe,
        statements.operating_margin as stmt_operating_margin,
        statements.progress_operating_profit as stmt_progress_operating_profit,
        statements.progress_net_sales as stmt_progress_net_sales,
        statements.equity_to_asset_ratio as stmt_equity_to_asset_ratio,
        dateDiff('day', statements.available_date, indicators.date) as stmt_days_since_disclosure,
        cross_sectional.* except (cs_code, cs_date)
    from indicators
    left join topix on indicators.date = topix.topix_date
    asof left join {{ ref('int_investor_flows_dated') }} as flows
        on indicators.section = flows.section and indicators.date >= flows.available_date
    asof left join {{ ref('int_statements_dated') }} as statements
        on indicators.code = statements.code and indicators.date >= statements.available_date
    left join cross_sectional on indicators.code = cross_sectional.cs_code and indicators.date = cross_sectional.cs_date
),

final as (
    select
        code,
        date,
        session_date,
        sector33_code,
        ret_1d,
        ret_5d,
        ret_10d,
        ret_20d,
        ret_60d,
        log_ret_1d,
        sma_5,
        sma_10,
        sma_20,
        sma_60,
        sma_120,
        ema_5,
        ema_10,
        ema_20,
        ema_60,
        ema_200,
        macd,
        macd_signal,
        macd_hist,
        rsi_2,
        rsi_14,
        bb_upper_20,
        bb_middle_20,
        bb_lower_20,
        bb_pct_b_20,
        atr_14,
        natr_14,
        adx_14,
        plus_di_14,
        minus_di_14,
        stoch_k,
        stoch_d,
        willr_14,
        cci_20,
        mfi_14,
        roc_10,
        mom_10,
        obv,
        vol_20d,
        vol_60d,
        sharpe_20d,
        sharpe_60d,
        volume_ratio_20,
        topix_ret_1d,
        topix_ret_20d,
        beta_60d,
        ret_20d - beta_60d * topix_ret_20d as alpha_20d,
        ret_60d - beta_60d * topix_ret_60d as alpha_60d,
        ret_20d - topix_ret_20d as rel_strength_20d,
        corr_topix_60d,
        ma_gap_5,
        ma_gap_20,
        ma_gap_60,
        ma_gap_120,
        ema_gap_200,
        sma_cross_5_20,
        sma_slope_20,
        sma_slope_60,
        parkinson_vol_20d,
        garman_klass_vol_20d,
        drawdown_252d,
        dist_52w_high,
        dist_52w_low,
        aroon_up_25,
        aroon_down_25,
        aroon_osc_25,
        donchian_upper_20,
        donchian_lower_20,
        donchian_pos_20,
        keltner_upper_20,
        keltner_lower_20,
        cmf_20,
        amihud_20,
        log_turnover_20,
        up_ratio_20,
        ret_skew_60d,
        sector_rel_ret_5d,
        sector_rel_ret_20d,
        sector_rel_vol_20d,
        cs_rank_ret_5d,
        cs_rank_ret_20d,
        cs_rank_ret_60d,
        cs_rank_vol_20d,
        cs_rank_volume_ratio_20,
        cs_rank_rsi_14,
        sector_rank_ret_20d,
        flow_foreigners_net_ratio,
        flow_foreigners_net_z,
        flow_individuals_net_z,
        stmt_sales_yoy,
        stmt_operating_profit_yoy,
        stmt_roe,
        stmt_operating_margin,
        stmt_progress_operating_profit,
        stmt_progress_net_sales,
        stmt_equity_to_asset_ratio,
        stmt_days_since_disclosure,
        -- labels are known only for a traded day: NULL on a day without trades and until t+N is landed
        if(session_date = date, target_ret_1d, null) as target_ret_1d,
        if(session_date = date, target_ret_5d, null) as target_ret_5d,
        if(session_date = date, target_ret_20d, null) as target_ret_20d
    from with_context
)

select * from final
