{{
    config(
        engine='MergeTree()',
        order_by='(code, date)',
        partition_by='toYear(date)',
        insert_buckets={
            'by': 'cityHash64(code)',
            'rows_of': 'int_sessions_point_in_time',
            'rows_per_bucket': var('indicator_rows_per_bucket'),
        },
    )
}}

-- Technical and market-relative indicators per code and traded session, computed on the point-in-time series
-- of int_sessions_point_in_time (windows count traded sessions). Price-level outputs are multiplied by
-- factor_to_date and volume-level ones divided by it, which expresses them in the units of the session's own
-- date: nothing here changes when later data, a later split included, is landed.
-- A window function cannot take another as argument, so multi-stage indicators run over successive CTEs.
-- The table is filled in buckets of codes (macros/adapter/create_table_as.sql): the peak memory of the window
-- stages grows with the rows of one INSERT.

with

sessions as (
    select
        sessions.code as code,
        sessions.date as date,
        sessions.rn as rn,
        sessions.factor_to_date as factor_to_date,
        sessions.open as open,
        sessions.high as high,
        sessions.low as low,
        sessions.close as close,
        sessions.volume as volume,
        sessions.turnover_value as turnover_value,
        topix.ret_1d as topix_ret_1d
    from {{ ref('int_sessions_point_in_time') }} as sessions
    left join {{ ref('fct_topix_daily') }} as topix on sessions.date = topix.date
),

-- stage 1: previous session, one-stage indicators, first stages of MACD and STOCH
lagged as (
    select
        *,
        {{ lag('close') }} as prev_close,
        {{ lag('high') }} as prev_high,
        {{ lag('low') }} as prev_low,
        close / {{ lag('close') }} - 1 as ret_1d,
        {% for n in [5, 10, 20, 60] -%}
            close / {{ lag('close', n) }} - 1 as ret_{{ n }}d,
        {% endfor -%}
        ln(close / {{ lag('close') }}) as log_ret_1d,
        {% for n in [5, 10, 20, 60, 120] -%}
            {{ sma('close', n) }} as sma_{{ n }},
        {% endfor -%}
        {% for n in [5, 10, 20, 60, 200] -%}
            {{ ema('close', n) }} as ema_{{ n }},
        {% endfor -%}
        {{ macd_line('close', 12, 26) }} as macd_line,
        {{ bbands('close', 20, 2, 'upper') }} as bb_upper_20,
        {{ bbands('close', 20, 2, 'middle') }} as bb_middle_20,
        {{ bbands('close', 20, 2, 'lower') }} as bb_lower_20,
        {{ stoch_fastk('high', 'low', 'close', 14) }} as stoch_fastk,
        {{ willr('high', 'low', 'close', 14) }} as willr_14,
        {{ cci('high', 'low', 'close', 20) }} as cci_20,
        {{ roc('close', 10) }} as roc_10,
        {{ mom('close', 10) }} as mom_10,
        {{ sma('volume', 20) }} as volume_sma_20,
        {{ donchian('high', 'low', 20, 'upper') }} as donchian_upper_20,
        {{ donchian('high', 'low', 20, 'lower') }} as donchian_lower_20,
        {{ rolling_max('close', 252) }} as max_close_252,
        {{ rolling_max('high', 252) }} as high_252,
        {{ rolling_min('low', 252) }} as low_252,
        {{ rolling_mean('pow(ln(high / low), 2)', 20) }} as parkinson_mean_20,
        {{ rolling_mean('0.5 * pow(ln(high / low), 2) - (2 * ln(2) - 1) * pow(ln(close / open), 2)', 20) }}
            as garman_klass_mean_20,
        {{ rolling_mean('if(high > low, ((close - low) - (high - close)) / (high - low), 0) * volume', 20) }}
        / nullIf({{ rolling_mean('volume', 20) }}, 0) as cmf_20,
        if(rn >= 25, 100 * (25 - (rn - argMax(rn, high) {{ indicator_window(26) }})) / 25, null) as aroon_up_25,
        if(rn >= 25, 100 * (25 - (rn - argMin(rn, low) {{ indicator_window(26) }})) / 25, null) as aroon_down_25,
        {{ rolling_mean('ln(turnover_value + 1)', 20) }} as log_turnover_20
    from sessions
),

-- stage 2: Wilder smoothing, MACD signal, STOCH slow %K, return statistics
smoothed as (
    select
        *,
        {{ rsi('close', 'prev_close', 2) }} as rsi_2,
        {{ rsi('close', 'prev_close', 14) }} as rsi_14,
        {{ atr('high', 'low', 'prev_close', 14) }} as atr_14_pit,
        {{ natr('high', 'low', 'close', 'prev_close', 14) }} as natr_14,
        {{ dmi_smooth(plus_dm('high', 'low', 'prev_high', 'prev_low'), 14) }} as sm_plus_dm_14,
        {{ dmi_smooth(minus_dm('high', 'low', 'prev_high', 'prev_low'), 14) }} as sm_minus_dm_14,
        {{ dmi_smooth(true_range('high', 'low', 'prev_close'), 14) }} as sm_tr_14,
        {{ mfi('high', 'low', 'close', 'volume', 'prev_high', 'prev_low', 'prev_close', 14) }} as mfi_14,
        {{ obv('close', 'prev_close', 'volume') }} as obv_pit,
        {{ macd('macd_line', 26, 9) }} as macd_pit,
        {{ macd_signal('macd_line', 26, 9) }} as macd_signal_pit,
        {{ macd_hist('macd_line', 26, 9) }} as macd_hist_pit,
        {{ stoch_slowk('stoch_fastk', 14, 3) }} as stoch_slowk_line,
        {% for n in [20, 60] -%}
            {{ rolling_stddev_samp('ret_1d', n) }} as ret_std_{{ n }},
            {{ rolling_mean('ret_1d', n) }} as ret_mean_{{ n }},
        {% endfor -%}
        {{ rolling_beta('ret_1d', 'topix_ret_1d', 60) }} as beta_60d,
        {{ rolling_corr('ret_1d', 'topix_ret_1d', 60) }} as corr_topix_60d,
        {{ rolling_mean('abs(ret_1d) / nullIf(turnover_value, 0) * 1e9', 20) }} as amihud_20,
        {{ rolling_mean('toFloat64(ret_1d > 0)', 20) }} as up_ratio_20,
        if(
            count(ret_1d) {{ indicator_window(60) }} = 60,
            skewSamp(ret_1d) {{ indicator_window(60) }},
            null
        ) as ret_skew_60d,
        {{ lag('sma_20', 5) }} as sma_20_lag5,
        {{ lag('sma_60', 5) }} as sma_60_lag5
    from lagged
),

-- stage 3: DI / ADX over the Wilder sums, STOCH slow %D, and the features that combine point-in-time levels.
-- Those belong here, not in `final`: there a bare `sma_20` resolves to the SELECT alias `sma_20 * factor_to_date`
-- (ClickHouse prefers an alias to the column), which would mix units of date t with the point-in-time `close`.
directional as (
    select
        *,
        {{ plus_di('sm_plus_dm_14', 'sm_tr_14', 14) }} as plus_di_14,
        {{ minus_di('sm_minus_dm_14', 'sm_tr_14', 14) }} as minus_di_14,
        {{ adx('sm_plus_dm_14', 'sm_minus_dm_14', 'sm_tr_14', 14) }} as adx_14,
        {{ lookback_mask('stoch_slowk_line', 17) }} as stoch_k,
        {{ stoch_slowd('stoch_slowk_line', 14, 3, 3) }} as stoch_d,
        (close - bb_lower_20) / nullIf(bb_upper_20 - bb_lower_20, 0) as bb_pct_b_20,
        close / sma_5 - 1 as ma_gap_5,
        close / sma_20 - 1 as ma_gap_20,
        close / sma_60 - 1 as ma_gap_60,
        close / sma_120 - 1 as ma_gap_120,
        close / ema_200 - 1 as ema_gap_200,
        sma_5 / sma_20 - 1 as sma_cross_5_20,
        sma_20 / sma_20_lag5 - 1 as sma_slope_20,
        sma_60 / sma_60_lag5 - 1 as sma_slope_60,
        (close - donchian_lower_20) / nullIf(donchian_upper_20 - donchian_lower_20, 0) as donchian_pos_20,
        ema_20 + 2 * atr_14_pit as keltner_upper_20_pit,
        ema_20 - 2 * atr_14_pit as keltner_lower_20_pit
    from smoothed
),

final as (
    select
        code,
        date,
        rn,
        factor_to_date,
        close * factor_to_date as close_pit,
        ret_1d,
        ret_5d,
        ret_10d,
        ret_20d,
        ret_60d,
        log_ret_1d,
        {% for n in [5, 10, 20, 60, 120] -%}
            sma_{{ n }} * factor_to_date as sma_{{ n }},
        {% endfor -%}
        {% for n in [5, 10, 20, 60, 200] -%}
            ema_{{ n }} * factor_to_date as ema_{{ n }},
        {% endfor -%}
        macd_pit * factor_to_date as macd,
        macd_signal_pit * factor_to_date as macd_signal,
        macd_hist_pit * factor_to_date as macd_hist,
        rsi_2,
        rsi_14,
        bb_upper_20 * factor_to_date as bb_upper_20,
        bb_middle_20 * factor_to_date as bb_middle_20,
        bb_lower_20 * factor_to_date as bb_lower_20,
        bb_pct_b_20,
        atr_14_pit * factor_to_date as atr_14,
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
        mom_10 * factor_to_date as mom_10,
        obv_pit / factor_to_date as obv,
        ret_std_20 * sqrt(252) as vol_20d,
        ret_std_60 * sqrt(252) as vol_60d,
        ret_mean_20 / nullIf(ret_std_20, 0) * sqrt(252) as sharpe_20d,
        ret_mean_60 / nullIf(ret_std_60, 0) * sqrt(252) as sharpe_60d,
        volume / nullIf(volume_sma_20, 0) as volume_ratio_20,
        beta_60d,
        corr_topix_60d,
        -- additional documented features
        ma_gap_5,
        ma_gap_20,
        ma_gap_60,
        ma_gap_120,
        ema_gap_200,
        sma_cross_5_20,
        sma_slope_20,
        sma_slope_60,
        sqrt(parkinson_mean_20 / (4 * ln(2)) * 252) as parkinson_vol_20d,
        sqrt(greatest(garman_klass_mean_20, 0) * 252) as garman_klass_vol_20d,
        close / max_close_252 - 1 as drawdown_252d,
        close / high_252 - 1 as dist_52w_high,
        close / low_252 - 1 as dist_52w_low,
        aroon_up_25,
        aroon_down_25,
        aroon_up_25 - aroon_down_25 as aroon_osc_25,
        donchian_upper_20 * factor_to_date as donchian_upper_20,
        donchian_lower_20 * factor_to_date as donchian_lower_20,
        donchian_pos_20,
        keltner_upper_20_pit * factor_to_date as keltner_upper_20,
        keltner_lower_20_pit * factor_to_date as keltner_lower_20,
        cmf_20,
        amihud_20,
        log_turnover_20,
        up_ratio_20,
        ret_skew_60d,
        -- labels: p(t+N) / p(t) - 1 on the series adjusted as of t+N equals close(t+N) / close(t) - 1 here
        {{ forward_return('close', 1) }} as target_ret_1d,
        {{ forward_return('close', 5) }} as target_ret_5d,
        {{ forward_return('close', 20) }} as target_ret_20d
    from directional
)

select * from final
