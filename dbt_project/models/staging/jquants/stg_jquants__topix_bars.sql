with

latest as (
    {{ jquants_latest('indices_topix', ['Date']) }}
),

renamed as (
    select
        Date as date,
        O as open,
        H as high,
        L as low,
        C as close,
        _loaded_at as loaded_at
    from latest
)

select * from renamed
