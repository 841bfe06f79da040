with

latest as (
    {{ jquants_latest('markets_calendar', ['Date']) }}
),

renamed as (
    select
        Date as date,
        HolDiv as holiday_division,
        toUInt8(HolDiv in ('1', '2')) as is_trading_day,
        _loaded_at as loaded_at
    from latest
)

select * from renamed
