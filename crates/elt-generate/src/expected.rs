//! The business figures the warehouse must report, computed from the generated records
//! themselves (no SQL), after the cleaning rules in the crate's docs.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDateTime};
use serde::Serialize;

use crate::Written;
use crate::records::{Event, Order, OrderItem};
use crate::simulate::CURRENCIES;

/// What the figures are computed from: every record written, once.
#[derive(Debug, Default)]
pub struct Truth {
    orders: Vec<Order>,
    items_cents: BTreeMap<u64, i64>,
    /// Distinct sessions per event type.
    funnel: BTreeMap<&'static str, BTreeSet<String>>,
}

/// `expected.json`.
#[derive(Debug, Serialize)]
pub struct Figures {
    /// Records per raw table, each counted once (customers and products: every version).
    pub raw_rows: BTreeMap<&'static str, u64>,
    pub orders_per_status: BTreeMap<&'static str, u64>,
    pub revenue_usd_micros_per_day: BTreeMap<String, i64>,
    pub funnel_sessions: BTreeMap<&'static str, u64>,
    pub active_customers_per_month: BTreeMap<String, u64>,
    /// Orders whose stated total differs from items + shipping - discount.
    pub mismatched_order_totals: u64,
    pub duplicate_lines: BTreeMap<&'static str, u64>,
    pub malformed_lines: BTreeMap<&'static str, u64>,
}

/// A timestamp as written (`2024-01-02 03:04:05` in UTC, or RFC 3339 with an offset), in UTC.
pub fn utc(text: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| DateTime::parse_from_rfc3339(text).map(|t| t.naive_utc()))
        .unwrap_or_else(|e| panic!("the generator wrote a timestamp it cannot read: {text}: {e}"))
}

impl Truth {
    pub fn add_day(&mut self, orders: &[Order], items: &[OrderItem], events: &[Event]) {
        self.orders.extend_from_slice(orders);
        for item in items {
            *self.items_cents.entry(item.order_id).or_default() +=
                item.quantity * item.unit_price_cents;
        }
        for event in events {
            self.funnel
                .entry(event.event_type)
                .or_default()
                .insert(event.session_id.clone());
        }
    }

    pub fn figures(&self, written: &Written) -> Figures {
        let mut orders_per_status = BTreeMap::new();
        let mut revenue = BTreeMap::new();
        let mut active: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
        let mut mismatched = 0;
        for order in &self.orders {
            *orders_per_status.entry(order.status).or_default() += 1;
            let amount = self
                .items_cents
                .get(&order.order_id)
                .copied()
                .unwrap_or_default()
                + order.shipping_cents
                - order.discount_cents;
            mismatched += u64::from(amount != order.total_cents);
            if order.status == "cancelled" {
                continue;
            }
            let at = utc(&order.ordered_at);
            let rate_bp = CURRENCIES
                .iter()
                .find(|(code, _, _)| *code == order.currency)
                .map(|(_, rate, _)| *rate)
                .expect("a known currency");
            *revenue
                .entry(at.format("%Y-%m-%d").to_string())
                .or_default() += amount * rate_bp;
            active
                .entry(at.format("%Y-%m").to_string())
                .or_default()
                .insert(order.customer_id);
        }
        Figures {
            raw_rows: written.rows.iter().copied().collect(),
            orders_per_status,
            revenue_usd_micros_per_day: revenue,
            funnel_sessions: self
                .funnel
                .iter()
                .map(|(step, sessions)| (*step, sessions.len() as u64))
                .collect(),
            active_customers_per_month: active
                .into_iter()
                .map(|(month, customers)| (month, customers.len() as u64))
                .collect(),
            mismatched_order_totals: mismatched,
            duplicate_lines: written.duplicates.clone(),
            malformed_lines: written.malformed.clone(),
        }
    }
}
