//! Word lists the seed draws names and message texts from.

pub(super) const TEAM_NAMES: &[&str] = &[
    "Harbor Dental",
    "Northwind Plumbing",
    "Bluebird Realty",
    "Summit Auto Care",
    "Cedar Vet Clinic",
];

pub(super) const SMS_INBOX_NAMES: [&str; 4] = ["Front Desk", "Sales", "Support", "Billing"];

pub(super) const EMAIL_INBOX_NAME: &str = "Email";

pub(super) const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Amara", "Ana", "Ben", "Bianca", "Carlos", "Chen", "Chloe", "Dana", "David",
    "Dmitri", "Elena", "Emeka", "Emma", "Farah", "Felix", "Grace", "Hana", "Hugo", "Ines", "Isaac",
    "Jamal", "Jin", "Julia", "Kai", "Keiko", "Lars", "Leila", "Liam", "Lucia", "Maya", "Mateo",
    "Mei", "Nadia", "Noah", "Nora", "Omar", "Olivia", "Priya", "Quinn", "Rafael", "Rosa", "Sam",
    "Sofia", "Tariq", "Tess", "Uma", "Victor", "Wen", "Yara", "Yusuf", "Zoe", "Zara",
];

pub(super) const LAST_NAMES: &[&str] = &[
    "Adams", "Ahmed", "Alvarez", "Baker", "Brooks", "Campbell", "Chen", "Costa", "Diaz", "Dubois",
    "Evans", "Fischer", "Garcia", "Gupta", "Hall", "Hansen", "Ito", "Jensen", "Johnson", "Kim",
    "Kowalski", "Lee", "Lopez", "Martin", "Mendes", "Miller", "Moreau", "Nakamura", "Nguyen",
    "Novak", "Okafor", "Olsen", "Patel", "Perez", "Quinn", "Rossi", "Sato", "Schmidt", "Silva",
    "Singh", "Smith", "Tanaka", "Turner", "Walker", "Wang", "Weber", "Wilson", "Young", "Zhang",
];

pub(super) const INBOUND_TEXTS: &[&str] = &[
    "Hi, is my order ready for pickup?",
    "Can I move my appointment to Thursday?",
    "Thanks!",
    "What time do you close today?",
    "Got it, see you then.",
    "Is there any parking nearby?",
    "I never received the invoice.",
    "Could you call me back when you have a minute?",
    "Perfect, thank you so much",
    "How much would that cost?",
    "Running about 10 minutes late, sorry!",
    "Yes please",
    "ok",
    "Do you have anything available next week?",
    "The link doesn't open on my phone",
];

pub(super) const OUTBOUND_TEXTS: &[&str] = &[
    "Hi! Thanks for reaching out, happy to help.",
    "Your order is ready whenever you are.",
    "We have openings Thursday at 10am and 2pm. Which works?",
    "You're all set, see you soon!",
    "We're open until 6pm today.",
    "I've resent the invoice to your email.",
    "Sure, I'll give you a call in a few minutes.",
    "No problem at all.",
    "Reply STOP to opt out of messages.",
    "Let me check and get back to you shortly.",
    "Here is the updated quote.",
    "Thanks for your patience!",
];

pub(super) const NOTE_TEXTS: &[&str] = &[
    "Customer prefers afternoons.",
    "Follow up next week about the quote.",
    "VIP - handle with care.",
    "Already refunded once, check with a manager.",
    "Spoke on the phone, resolved.",
];

/// Saved messages: a name and a text with merge tokens.
pub(super) const TEMPLATES: &[(&str, &str)] = &[
    (
        "Greeting",
        "Hi {{first_name}}, thanks for reaching out! How can we help?",
    ),
    (
        "Order ready",
        "Hi {{first_name}}, your order is ready for pickup.",
    ),
    (
        "Order shipped",
        "Good news {{first_name}}: your order shipped today.",
    ),
    (
        "Appointment reminder",
        "Reminder: your appointment is tomorrow. Reply C to confirm.",
    ),
    (
        "Appointment confirmed",
        "Thanks {{first_name}}, your appointment is confirmed.",
    ),
    (
        "After hours",
        "We're closed right now and will reply first thing in the morning.",
    ),
    (
        "Review request",
        "Thanks for visiting, {{first_name}}! Would you leave us a review?",
    ),
    (
        "Payment received",
        "We received your payment. Thank you, {{first_name}} {{last_name}}.",
    ),
    (
        "Payment reminder",
        "A friendly reminder that your invoice is due this week.",
    ),
    (
        "Out of stock",
        "Sorry {{first_name}}, that item is out of stock. We'll text you when it's back.",
    ),
    (
        "Back in stock",
        "It's back! The item you asked about is in stock again.",
    ),
    (
        "Delivery window",
        "Your delivery will arrive between 2 and 4 pm today.",
    ),
    (
        "Delivery delayed",
        "Sorry, your delivery is running late; we'll update you soon.",
    ),
    (
        "Survey",
        "How did we do today? Reply with a number from 1 to 5.",
    ),
    (
        "Holiday hours",
        "Holiday hours: we close at 3 pm on Friday.",
    ),
    (
        "Welcome",
        "Welcome, {{first_name}}! Save this number to reach us any time.",
    ),
    (
        "Follow up",
        "Hi {{first_name}}, just following up on your question from yesterday.",
    ),
    (
        "Quote",
        "Here is the quote you asked for; it is valid for 30 days.",
    ),
    (
        "Reschedule",
        "Need a different time? Reply with the day that works best.",
    ),
    (
        "Call back",
        "Thanks {{first_name}}, someone from our team will call you shortly.",
    ),
    (
        "Directions",
        "We're at 100 Main Street; parking is behind the building.",
    ),
    (
        "Warranty",
        "Your purchase includes a one-year warranty. Keep this message.",
    ),
    (
        "Referral",
        "Know someone who'd like us? Send them our way and you both save 10%.",
    ),
    (
        "Closing",
        "Glad we could help, {{first_name}}. Have a great day!",
    ),
    ("Missed call", "Sorry we missed your call. How can we help?"),
    ("Pickup", "Your pickup is scheduled for tomorrow morning."),
    (
        "Password reset",
        "To reset your account, reply RESET and we'll send a link.",
    ),
    (
        "Feedback thanks",
        "Thank you for the feedback, {{first_name}}; we read every reply.",
    ),
    (
        "Event invite",
        "You're invited to our open house next Saturday!",
    ),
    (
        "Price update",
        "Prices change on the first of the month; order now to lock them in.",
    ),
    (
        "Loyalty points",
        "You have points to spend, {{first_name}}. Ask us how.",
    ),
    (
        "Seasonal offer",
        "This week only: 15% off for our regulars.",
    ),
    (
        "Check in",
        "Checking in: is everything working as expected?",
    ),
    (
        "Documents needed",
        "Please reply with a photo of the signed form.",
    ),
    ("Thank you", "Thank you, {{first_name}} {{last_name}}!"),
];

/// The team's tags and their colours.
pub(super) const TAGS: &[(&str, &str)] = &[
    ("VIP", "#d4a017"),
    ("Wholesale", "#2f6fed"),
    ("New customer", "#2e8b57"),
    ("Late payer", "#c0392b"),
    ("Newsletter", "#8e44ad"),
    ("Returns", "#7f8c8d"),
];

/// The team's custom contact fields.
pub(super) const CUSTOM_FIELDS: &[&str] = &["Account number", "Preferred store", "Birthday"];

/// Values of the "Preferred store" field.
pub(super) const STORES: &[&str] = &["Downtown", "Harbor", "Airport", "Online"];
