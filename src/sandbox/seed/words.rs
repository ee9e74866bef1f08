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
