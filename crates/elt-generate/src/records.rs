//! The raw records, as the source systems write them: shop database rows as CSV, orders,
//! payments, shipments and clickstream events as JSON lines. Money is in integer cents of the
//! record's currency; timestamps are text, UTC unless they carry an offset.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub customer_id: u64,
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub country_code: Option<&'static str>,
    pub signed_up_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Product {
    pub product_id: u64,
    pub sku: String,
    pub name: String,
    pub category: &'static str,
    pub price_cents: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub order_id: u64,
    pub customer_id: u64,
    pub ordered_at: String,
    pub currency: &'static str,
    pub status: &'static str,
    pub shipping_cents: i64,
    pub discount_cents: i64,
    /// What the shop system says the order came to; usually items + shipping - discount.
    pub total_cents: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderItem {
    pub order_id: u64,
    pub line_number: u32,
    pub product_id: u64,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Payment {
    pub payment_id: u64,
    pub order_id: u64,
    pub method: &'static str,
    /// `charge` or `refund` (a partial refund has a negative amount).
    pub kind: &'static str,
    pub amount_cents: i64,
    pub currency: &'static str,
    pub paid_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Shipment {
    pub shipment_id: u64,
    pub order_id: u64,
    pub carrier: &'static str,
    pub shipped_at: String,
    pub delivered_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub event_id: String,
    pub session_id: String,
    pub customer_id: Option<u64>,
    pub event_type: &'static str,
    pub occurred_at: String,
    pub page: Option<String>,
    pub search_query: Option<String>,
    pub product_id: Option<u64>,
    pub order_id: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InventoryMovement {
    pub movement_id: u64,
    pub product_id: u64,
    /// Positive for restocks, negative for sales.
    pub quantity_change: i64,
    pub reason: &'static str,
    pub moved_at: String,
}
