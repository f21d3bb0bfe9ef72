//! The shop, one day at a time: customers sign up and change, products appear and change
//! price, orders are placed (with weekday and seasonal swings, Zipf-popular products and
//! repeat customers), paid, refunded and shipped, and visitors browse in sessions that drop
//! off along the funnel. Everything is drawn from one seeded ChaCha8 stream, so the same
//! options give the same shop.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Weekday};
use rand::Rng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand_chacha::ChaCha8Rng;
use rand_distr::Zipf;

use crate::records::{
    Customer, Event, InventoryMovement, Order, OrderItem, Payment, Product, Shipment,
};

/// Currencies orders are placed in: code, value of one unit in US dollars in basis points
/// (seeds/currency_rates.csv holds the same), and share of orders.
pub const CURRENCIES: [(&str, i64, f64); 3] = [
    ("USD", 10_000, 0.60),
    ("EUR", 10_850, 0.25),
    ("GBP", 12_700, 0.15),
];

pub const COUNTRIES: [&str; 8] = ["US", "GB", "DE", "FR", "NL", "ES", "IT", "CA"];
pub const CATEGORIES: [&str; 8] = [
    "apparel",
    "electronics",
    "home",
    "beauty",
    "sports",
    "books",
    "toys",
    "grocery",
];
const STATUSES: [(&str, f64); 5] = [
    ("delivered", 0.78),
    ("shipped", 0.08),
    ("placed", 0.04),
    ("cancelled", 0.06),
    ("returned", 0.04),
];
const METHODS: [(&str, f64); 4] = [
    ("card", 0.60),
    ("paypal", 0.25),
    ("bank_transfer", 0.10),
    ("gift_card", 0.05),
];
const CARRIERS: [(&str, f64); 3] = [("ups", 0.5), ("dhl", 0.3), ("fedex", 0.2)];
const FIRST_NAMES: [&str; 12] = [
    "Ann", "Bob", "Chloé", "Dmitri", "Eve", "Farid", "Grace", "Hiro", "Inès", "Jon", "Kofi", "Lena",
];
const LAST_NAMES: [&str; 10] = [
    "Smith", "O'Brien", "Müller", "Dubois", "Rossi", "García", "Jansen", "Tanaka", "Nowak", "Lee",
];
const PAGES: [&str; 5] = ["/", "/category", "/product", "/cart", "/account"];
const SEARCHES: [&str; 6] = ["shoes", "usb cable", "lamp", "serum", "yoga mat", "novel"];

/// Orders a day at scale 1, before weekday and seasonal swings: about 100,000 in 30 days.
const ORDERS_PER_DAY: f64 = 100_000.0 / 30.0;
/// Browsing sessions that end without a purchase, per order.
const SESSIONS_PER_ORDER: usize = 6;
/// Share of orders by customers who ordered before.
const REPEAT_SHARE: f64 = 0.55;
/// Orders of at least this much (in their currency) ship free; others pay SHIPPING_CENTS.
const FREE_SHIPPING_CENTS: i64 = 5_000;
const SHIPPING_CENTS: i64 = 499;

/// The dirt rates of documented cleaning rules (see the crate's docs).
pub mod dirt {
    /// Orders whose stated total is off (the clean layer recomputes it from the items).
    pub const TOTAL_MISMATCH: f64 = 0.01;
    /// Timestamps written in another time zone (with their offset): the same instant.
    pub const SHIFTED_TIMEZONE: f64 = 0.03;
    pub const NULL_EMAIL: f64 = 0.02;
    pub const NULL_COUNTRY: f64 = 0.01;
    /// Records written twice (orders and events).
    pub const DUPLICATE_ORDER: f64 = 0.005;
    pub const DUPLICATE_EVENT: f64 = 0.02;
    /// Events that arrive in the next day's file.
    pub const LATE_EVENT: f64 = 0.01;
    /// Truncated lines beside good ones in JSON-lines files (a retried write).
    pub const MALFORMED_LINE: f64 = 0.003;
}

/// What happened on one day, as the source systems recorded it.
#[derive(Debug, Default)]
pub struct Day {
    pub customers: Vec<Customer>,
    pub products: Vec<Product>,
    pub orders: Vec<Order>,
    pub order_items: Vec<OrderItem>,
    pub payments: Vec<Payment>,
    pub shipments: Vec<Shipment>,
    pub events: Vec<Event>,
    pub inventory: Vec<InventoryMovement>,
}

pub struct Shop {
    pub rng: ChaCha8Rng,
    scale: f64,
    start: NaiveDate,
    customers: Vec<Customer>,
    products: Vec<Product>,
    next_id: u64,
}

pub fn timestamp(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn pick<'a, R: Rng>(rng: &mut R, choices: &[(&'a str, f64)]) -> &'a str {
    let index = WeightedIndex::new(choices.iter().map(|(_, w)| *w)).expect("positive weights");
    choices[index.sample(rng)].0
}

impl Shop {
    pub fn new(seed: u64, scale: f64, start: NaiveDate) -> Self {
        use rand::SeedableRng;
        Shop {
            rng: ChaCha8Rng::seed_from_u64(seed),
            scale,
            start,
            customers: Vec::new(),
            products: Vec::new(),
            next_id: 1,
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id - 1
    }

    /// A moment of `date`, busier in the evening.
    fn moment(&mut self, date: NaiveDate) -> NaiveDateTime {
        const HOURS: [f64; 24] = [
            1., 0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1., 1.5, 2., 2., 2.2, 2.5, 2.2, 2., 2., 2.2, 2.5, 3.,
            3.5, 3.5, 3., 2., 1.5,
        ];
        let hour = WeightedIndex::new(HOURS)
            .expect("weights")
            .sample(&mut self.rng) as u32;
        let second = self.rng.random_range(0..3600);
        date.and_hms_opt(hour, 0, 0).expect("an hour") + Duration::seconds(second)
    }

    /// A timestamp as the source writes it: UTC, or now and then in another zone.
    fn written(&mut self, at: NaiveDateTime) -> String {
        if self.rng.random_bool(dirt::SHIFTED_TIMEZONE) {
            let hours =
                self.rng.random_range(1..=9) * if self.rng.random_bool(0.5) { 1 } else { -1 };
            let local = at + Duration::hours(hours);
            format!(
                "{}{}{:02}:00",
                local.format("%Y-%m-%dT%H:%M:%S"),
                if hours >= 0 { '+' } else { '-' },
                hours.abs()
            )
        } else {
            timestamp(at)
        }
    }

    fn new_customer(&mut self, at: NaiveDateTime) -> Customer {
        let id = self.id();
        let first = FIRST_NAMES[self.rng.random_range(0..FIRST_NAMES.len())];
        let last = LAST_NAMES[self.rng.random_range(0..LAST_NAMES.len())];
        let email = (!self.rng.random_bool(dirt::NULL_EMAIL))
            .then(|| format!("{}.{}{id}@example.com", first.to_lowercase(), id % 97));
        let country = (!self.rng.random_bool(dirt::NULL_COUNTRY))
            .then(|| COUNTRIES[self.rng.random_range(0..COUNTRIES.len())]);
        let signed_up_at = self.written(at);
        Customer {
            customer_id: id,
            email,
            first_name: first.to_string(),
            last_name: last.to_string(),
            country_code: country,
            updated_at: signed_up_at.clone(),
            signed_up_at,
        }
    }

    fn new_product(&mut self, at: NaiveDateTime) -> Product {
        let id = self.id();
        let category = CATEGORIES[self.rng.random_range(0..CATEGORIES.len())];
        // Prices from $2 to about $400, most of them low.
        let price_cents = (200.0 * (1.0 + self.rng.random::<f64>() * 7.6).exp2()).round() as i64;
        Product {
            product_id: id,
            sku: format!("{}-{id:06}", &category[..3].to_uppercase()),
            name: format!("{category} item {id}"),
            category,
            price_cents,
            created_at: timestamp(at),
            updated_at: timestamp(at),
        }
    }

    /// How many orders `date` gets: weekends are busier, and there is a yearly season.
    fn order_count(&mut self, date: NaiveDate) -> usize {
        let weekday = match date.weekday() {
            Weekday::Sat | Weekday::Sun => 1.25,
            Weekday::Mon => 0.9,
            _ => 1.0,
        };
        let season =
            1.0 + 0.15 * (2.0 * std::f64::consts::PI * date.ordinal() as f64 / 365.0).sin();
        let noise = 0.9 + 0.2 * self.rng.random::<f64>();
        ((ORDERS_PER_DAY * self.scale * weekday * season * noise).round() as usize).max(1)
    }

    /// Simulates day `index` (0 is the start date).
    pub fn day(&mut self, index: u32) -> Day {
        let date = self.start + Duration::days(index as i64);
        let mut day = Day::default();
        if index == 0 {
            // The catalog as it was before the first day.
            let count = ((1_500.0 * self.scale) as usize).max(40);
            let opened = (self.start - Duration::days(30))
                .and_hms_opt(0, 0, 0)
                .expect("time");
            for _ in 0..count {
                let product = self.new_product(opened);
                self.products.push(product);
            }
            day.products = self.products.clone();
        }
        // Products and customers that exist at the day's start: new products sell from the
        // next day on, and the day's new customers come back on a later day.
        let on_sale = self.products.len();
        let known = self.customers.len();
        self.change_catalog(date, &mut day);
        self.change_customers(date, &mut day);
        let popularity = Zipf::new(on_sale as f64, 1.1).expect("a Zipf distribution");
        for _ in 0..self.order_count(date) {
            self.order(date, on_sale, known, &popularity, &mut day);
        }
        for _ in 0..day.orders.len() * SESSIONS_PER_ORDER {
            let at = self.moment(date);
            let customer = (known > 0 && self.rng.random_bool(0.5))
                .then(|| self.customers[self.rng.random_range(0..known)].customer_id);
            self.session(at, customer, None, on_sale, &popularity, &mut day);
        }
        if index.is_multiple_of(7) {
            let at = date.and_hms_opt(5, 0, 0).expect("time");
            for p in 0..on_sale {
                let product_id = self.products[p].product_id;
                let movement_id = self.id();
                day.inventory.push(InventoryMovement {
                    movement_id,
                    product_id,
                    quantity_change: self.rng.random_range(50..=300),
                    reason: "restock",
                    moved_at: timestamp(at),
                });
            }
        }
        day
    }

    fn change_catalog(&mut self, date: NaiveDate, day: &mut Day) {
        if self.rng.random_bool(0.3) {
            let at = self.moment(date);
            let product = self.new_product(at);
            self.products.push(product.clone());
            day.products.push(product);
        }
        for p in 0..self.products.len() {
            if self.rng.random_bool(0.01) {
                let at = timestamp(self.moment(date));
                let factor = 0.8 + 0.4 * self.rng.random::<f64>();
                let product = &mut self.products[p];
                product.price_cents = ((product.price_cents as f64) * factor).round() as i64;
                product.updated_at = at;
                day.products.push(product.clone());
            }
        }
    }

    fn change_customers(&mut self, date: NaiveDate, day: &mut Day) {
        for c in 0..self.customers.len() {
            if self.rng.random_bool(0.005) {
                let at = self.moment(date);
                let updated_at = self.written(at);
                let country = COUNTRIES[self.rng.random_range(0..COUNTRIES.len())];
                let customer = &mut self.customers[c];
                customer.country_code = Some(country);
                customer.updated_at = updated_at;
                day.customers.push(customer.clone());
            }
        }
    }

    /// An order on `date` by one of the `known` customers or a new one, of products among
    /// the first `on_sale`.
    fn order(
        &mut self,
        date: NaiveDate,
        on_sale: usize,
        known: usize,
        popularity: &Zipf<f64>,
        day: &mut Day,
    ) {
        let at = self.moment(date);
        let customer_id = if known > 0 && self.rng.random_bool(REPEAT_SHARE) {
            self.customers[self.rng.random_range(0..known)].customer_id
        } else {
            let signed_up = at - Duration::seconds(self.rng.random_range(60..1800));
            let signed_up = signed_up.max(date.and_hms_opt(0, 0, 0).expect("midnight"));
            let customer = self.new_customer(signed_up);
            self.customers.push(customer.clone());
            day.customers.push(customer.clone());
            customer.customer_id
        };
        let currency_index = WeightedIndex::new(CURRENCIES.map(|c| c.2))
            .expect("weights")
            .sample(&mut self.rng);
        let (currency, rate_bp, _) = CURRENCIES[currency_index];
        let order_id = self.id();
        let lines = WeightedIndex::new([0.45, 0.3, 0.15, 0.1])
            .expect("weights")
            .sample(&mut self.rng)
            + 1;
        let mut items_cents = 0;
        let mut products = Vec::new();
        for line in 0..lines {
            let rank = popularity.sample(&mut self.rng) as usize;
            let product = &self.products[(rank - 1).min(on_sale - 1)];
            let quantity = self.rng.random_range(1..=3);
            let unit_price_cents = (product.price_cents * 10_000 + rate_bp / 2) / rate_bp;
            items_cents += quantity * unit_price_cents;
            products.push((product.product_id, quantity));
            day.order_items.push(OrderItem {
                order_id,
                line_number: line as u32 + 1,
                product_id: product.product_id,
                quantity,
                unit_price_cents,
            });
        }
        let shipping_cents = if items_cents >= FREE_SHIPPING_CENTS {
            0
        } else {
            SHIPPING_CENTS
        };
        let discount_cents = if self.rng.random_bool(0.1) {
            items_cents / 10
        } else {
            0
        };
        let total = items_cents + shipping_cents - discount_cents;
        let stated = if self.rng.random_bool(dirt::TOTAL_MISMATCH) {
            total + self.rng.random_range(100..=1_000)
        } else {
            total
        };
        let status = pick(&mut self.rng, &STATUSES);
        let ordered_at = self.written(at);
        day.orders.push(Order {
            order_id,
            customer_id,
            ordered_at,
            currency,
            status,
            shipping_cents,
            discount_cents,
            total_cents: stated,
        });
        if status != "cancelled" {
            self.pay(order_id, at, total, currency, status, day);
            for (product_id, quantity) in products {
                let movement_id = self.id();
                day.inventory.push(InventoryMovement {
                    movement_id,
                    product_id,
                    quantity_change: -quantity,
                    reason: "sale",
                    moved_at: timestamp(at),
                });
            }
        }
        if matches!(status, "shipped" | "delivered" | "returned") {
            let shipped = at + Duration::minutes(self.rng.random_range(240..2_880));
            let delivered = (status != "shipped")
                .then(|| timestamp(shipped + Duration::hours(self.rng.random_range(24..120))));
            let shipment_id = self.id();
            day.shipments.push(Shipment {
                shipment_id,
                order_id,
                carrier: pick(&mut self.rng, &CARRIERS),
                shipped_at: timestamp(shipped),
                delivered_at: delivered,
            });
        }
        let session_start = at - Duration::minutes(self.rng.random_range(2..30));
        let session_start = session_start.max(date.and_hms_opt(0, 0, 0).expect("midnight"));
        self.session(
            session_start,
            Some(customer_id),
            Some(order_id),
            on_sale,
            popularity,
            day,
        );
    }

    fn pay(
        &mut self,
        order_id: u64,
        at: NaiveDateTime,
        total: i64,
        currency: &'static str,
        status: &str,
        day: &mut Day,
    ) {
        let method = pick(&mut self.rng, &METHODS);
        let paid_at = at + Duration::seconds(self.rng.random_range(5..600));
        let payment_id = self.id();
        day.payments.push(Payment {
            payment_id,
            order_id,
            method,
            kind: "charge",
            amount_cents: total,
            currency,
            paid_at: timestamp(paid_at),
        });
        let refund = match status {
            "returned" => Some(total),
            "delivered" if self.rng.random_bool(0.03) => {
                Some(total * self.rng.random_range(10..=50) / 100)
            }
            _ => None,
        };
        if let Some(amount) = refund {
            let payment_id = self.id();
            day.payments.push(Payment {
                payment_id,
                order_id,
                method,
                kind: "refund",
                amount_cents: -amount,
                currency,
                paid_at: timestamp(paid_at + Duration::days(self.rng.random_range(3..20))),
            });
        }
    }

    /// A browsing session from `at`: page views, searches, and the funnel as far as this
    /// visitor goes; sessions that bought carry their order.
    fn session(
        &mut self,
        at: NaiveDateTime,
        customer_id: Option<u64>,
        order_id: Option<u64>,
        on_sale: usize,
        popularity: &Zipf<f64>,
        day: &mut Day,
    ) {
        let session_id = format!("s{:010}", self.id());
        let mut at = at;
        let mut steps: Vec<&'static str> = vec!["page_view"; self.rng.random_range(1..=6)];
        if self.rng.random_bool(0.4) {
            steps.insert(1.min(steps.len()), "search");
        }
        let bought = order_id.is_some();
        if bought || self.rng.random_bool(0.2) {
            steps.push("add_to_cart");
            if bought || self.rng.random_bool(0.4) {
                steps.push("checkout");
                if bought {
                    steps.push("purchase");
                }
            }
        }
        for step in steps {
            at += Duration::seconds(self.rng.random_range(5..120));
            let product_id = matches!(step, "page_view" | "add_to_cart").then(|| {
                let rank = popularity.sample(&mut self.rng) as usize;
                self.products[(rank - 1).min(on_sale - 1)].product_id
            });
            let event_id = format!("e{:010}", self.id());
            let occurred_at = self.written(at);
            day.events.push(Event {
                event_id,
                session_id: session_id.clone(),
                customer_id,
                event_type: step,
                occurred_at,
                page: (step == "page_view")
                    .then(|| PAGES[self.rng.random_range(0..PAGES.len())].to_string()),
                search_query: (step == "search")
                    .then(|| SEARCHES[self.rng.random_range(0..SEARCHES.len())].to_string()),
                product_id,
                order_id: order_id.filter(|_| step == "purchase"),
            });
        }
    }
}
