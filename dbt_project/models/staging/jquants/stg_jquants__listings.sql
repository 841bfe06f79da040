with

latest as (
    {{ jquants_latest('equities_master', ['Code', 'Date']) }}
),

renamed as (
    select
        Code as code,
        Date as date,
        CoName as company_name,
        CoNameEn as company_name_en,
        S17 as sector17_code,
        S17Nm as sector17_name,
        S33 as sector33_code,
        S33Nm as sector33_name,
        ScaleCat as scale_category,
        Mkt as market_code,
        MktNm as market_name,
        Mrgn as margin_code,
        MrgnNm as margin_name,
        _loaded_at as loaded_at
    from latest
)

select * from renamed
