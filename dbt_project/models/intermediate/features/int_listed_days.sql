{{
    config(
        engine='MergeTree()',
        order_by='(code, date)',
        partition_by='toYear(date)',
        query_settings={'join_use_nulls': 1},
    )
}}

-- One row per listed code and trading day: the traded session its features come from (the day itself, or the
-- last session before it on a day without trades), the day's sector and market section, and the session values
-- the cross-sectional features of fct_daily_features rank. A narrow table on purpose: ranking these few columns
-- per date sorts little, where ranking inside the wide feature query sorted every indicator column.
-- A whole-history table (narrow, so cheap to rebuild): fct_daily_features reads whatever window it rebuilds from
-- it, even when that model alone is refreshed.

with

spine as (
    select
        code,
        date
    from {{ ref('fct_daily_prices_adjusted') }}
),

sessions as (
    select
        code,
        date,
        ret_5d,
        ret_20d,
        ret_60d,
        vol_20d,
        volume_ratio_20,
        rsi_14
    from {{ ref('int_sessions_indicators') }}
),

listings as (
    select
        code,
        date,
        sector33_code,
        market_code
    from {{ ref('stg_jquants__listings') }}
),

final as (
    select
        spine.code as code,
        spine.date as date,
        sessions.date as session_date,
        listings.sector33_code as sector33_code,
        multiIf(
            listings.market_code = '0111', 'TSEPrime',
            listings.market_code = '0112', 'TSEStandard',
            listings.market_code = '0113', 'TSEGrowth',
            ''
        ) as section,
        sessions.ret_5d as ret_5d,
        sessions.ret_20d as ret_20d,
        sessions.ret_60d as ret_60d,
        sessions.vol_20d as vol_20d,
        sessions.volume_ratio_20 as volume_ratio_20,
        sessions.rsi_14 as rsi_14
    from spine
    asof left join sessions on spine.code = sessions.code and spine.date >= sessions.date
    asof left join listings on spine.code = listings.code and spine.date >= listings.date
)

select * from final
