with

latest as (
    {{ jquants_latest('fins_summary', ['Code', 'DiscNo']) }}
),

renamed as (
    select
        Code as code,
        DiscNo as disclosure_number,
        DiscDate as disclosed_date,
        DiscTime as disclosed_time,
        DocType as document_type,
        CurPerType as period_type,
        CurPerSt as period_start,
        CurPerEn as period_end,
        CurFYSt as fiscal_year_start,
        CurFYEn as fiscal_year_end,
        Sales as net_sales_ytd,
        OP as operating_profit_ytd,
        OdP as ordinary_profit_ytd,
        NP as profit_ytd,
        EPS as eps_ytd,
        BPS as bps,
        TA as total_assets,
        Eq as equity,
        EqAR as equity_to_asset_ratio,
        CFO as operating_cash_flow_ytd,
        FSales as forecast_net_sales,
        FOP as forecast_operating_profit,
        FOdP as forecast_ordinary_profit,
        FNP as forecast_profit,
        FEPS as forecast_eps,
        ShOutFY as shares_outstanding,
        TrShFY as treasury_shares,
        _loaded_at as loaded_at
    from latest
)

select * from renamed
