{{
    config(
        engine='MergeTree()',
        order_by='(code, available_date, disclosure_number)',
        query_settings={'join_use_nulls': 1},
    )
}}

-- Financial statements made point in time and comparable:
-- * available_date: the disclosure day if disclosed before that day's close (15:00 JST, 15:30 JST from
--   2024-11-05 when the TSE extended its session) and that day trades; otherwise the next trading day.
-- * quarterly values de-cumulated from J-Quants' year-to-date figures (Q1 as is, Qn = YTDn - YTDn-1 of the
--   same fiscal year, using the latest earlier statement of that quarter available by then),
-- * YoY growth against the same quarter of the previous fiscal year (fiscal-year-and-quarter keys).

with

statements as (
    select
        code,
        disclosure_number,
        disclosed_date,
        disclosed_time,
        fiscal_year_start,
        multiIf(period_type = '1Q', 1, period_type = '2Q', 2, period_type = '3Q', 3, period_type = 'FY', 4, 0)
            as quarter,
        net_sales_ytd,
        operating_profit_ytd,
        profit_ytd,
        equity,
        equity_to_asset_ratio,
        forecast_net_sales,
        forecast_operating_profit,
        forecast_profit
    from {{ ref('stg_jquants__statements') }}
    where
        document_type like '%FinancialStatements%'
        and fiscal_year_start is not null
),

calendar as (
    select
        date,
        is_trading_day,
        next_trading_day
    from {{ ref('dim_trading_calendar') }}
),

dated as (
    select
        statements.*,
        assumeNotNull(if(
            calendar.is_trading_day = 1
            and statements.disclosed_time < if(statements.disclosed_date >= toDate('2024-11-05'), '15:30:00', '15:00:00'),
            statements.disclosed_date,
            calendar.next_trading_day
        )) as available_date
    from statements
    inner join calendar on statements.disclosed_date = calendar.date
    where calendar.next_trading_day is not null
),

with_previous_quarter as (
    select
        cur.*,
        prev_q.net_sales_ytd as prev_q_net_sales_ytd,
        prev_q.operating_profit_ytd as prev_q_operating_profit_ytd,
        prev_q.profit_ytd as prev_q_profit_ytd
    from dated as cur
    asof left join dated as prev_q
        on
            cur.code = prev_q.code
            and cur.fiscal_year_start = prev_q.fiscal_year_start
            and cur.quarter - 1 = prev_q.quarter
            and cur.available_date >= prev_q.available_date
),

quarterly as (
    select
        *,
        if(quarter = 1, net_sales_ytd, net_sales_ytd - prev_q_net_sales_ytd) as net_sales_q,
        if(quarter = 1, operating_profit_ytd, operating_profit_ytd - prev_q_operating_profit_ytd) as operating_profit_q,
        if(quarter = 1, profit_ytd, profit_ytd - prev_q_profit_ytd) as profit_q
    from with_previous_quarter
),

with_previous_year as (
    select
        cur.*,
        prev_y.net_sales_q as prev_y_net_sales_q,
        prev_y.operating_profit_q as prev_y_operating_profit_q
    from quarterly as cur
    asof left join quarterly as prev_y
        on
            cur.code = prev_y.code
            and cur.quarter = prev_y.quarter
            and addYears(cur.fiscal_year_start, -1) = prev_y.fiscal_year_start
            and cur.available_date >= prev_y.available_date
),

final as (
    select
        code,
        disclosure_number,
        disclosed_date,
        disclosed_time,
        available_date,
        fiscal_year_start,
        quarter,
        net_sales_q,
        operating_profit_q,
        profit_q,
        if(prev_y_net_sales_q > 0, net_sales_q / prev_y_net_sales_q - 1, null) as sales_yoy,
        if(prev_y_operating_profit_q > 0, operating_profit_q / prev_y_operating_profit_q - 1, null)
            as operating_profit_yoy,
        if(equity > 0, profit_ytd * 4 / quarter / equity, null) as roe,
        if(net_sales_ytd > 0, operating_profit_ytd / net_sales_ytd, null) as operating_margin,
        if(forecast_operating_profit > 0, operating_profit_ytd / forecast_operating_profit, null)
            as progress_operating_profit,
        if(forecast_net_sales > 0, net_sales_ytd / forecast_net_sales, null) as progress_net_sales,
        equity_to_asset_ratio
    from with_previous_year
    where quarter > 0
)

select * from final
