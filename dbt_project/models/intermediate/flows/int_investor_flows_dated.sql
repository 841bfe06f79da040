{{
    config(
        engine='MergeTree()',
        order_by='(section, available_date)',
    )
}}

-- Weekly investor-type flows per market section, usable from the trading day after publication, with net
-- buying scaled by the section's total trading and standardised against the previous 52 publications.

with

flows as (
    select
        section,
        published_date,
        week_end_date,
        foreigners_balance,
        individuals_balance,
        total_total
    from {{ ref('stg_jquants__investor_flows') }}
),

calendar as (
    select
        date,
        next_trading_day
    from {{ ref('dim_trading_calendar') }}
),

dated as (
    select
        flows.*,
        assumeNotNull(calendar.next_trading_day) as available_date
    from flows
    inner join calendar on flows.published_date = calendar.date
    where calendar.next_trading_day is not null
),

scaled as (
    select
        section,
        published_date,
        week_end_date,
        available_date,
        if(total_total > 0, foreigners_balance / total_total, null) as foreigners_net_ratio,
        if(total_total > 0, individuals_balance / total_total, null) as individuals_net_ratio
    from dated
),

standardised as (
    select
        *,
        (foreigners_net_ratio - avg(foreigners_net_ratio) over w52)
        / nullIf(stddevSamp(foreigners_net_ratio) over w52, 0) as foreigners_net_z,
        (individuals_net_ratio - avg(individuals_net_ratio) over w52)
        / nullIf(stddevSamp(individuals_net_ratio) over w52, 0) as individuals_net_z,
        count() over w52 as weeks_in_window
    from scaled
    window w52 as (partition by section order by week_end_date rows between 51 preceding and current row)
),

final as (
    select
        section,
        published_date,
        week_end_date,
        available_date,
        foreigners_net_ratio,
        individuals_net_ratio,
        if(weeks_in_window >= 13, foreigners_net_z, null) as foreigners_net_z,
        if(weeks_in_window >= 13, individuals_net_z, null) as individuals_net_z
    from standardised
)

select * from final
