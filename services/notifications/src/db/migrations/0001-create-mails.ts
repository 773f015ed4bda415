import { type Kysely, sql } from "@obfy/kit/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  // Every mail the store sends, and the local mailbox when SMTP_URL is unset (transport
  // 'mailbox'). One mail of each kind per order: the unique key is what makes a redelivered or
  // repeated order event queue no second receipt.
  await sql`
    create table mails (
      id uuid primary key,
      -- Insertion order: ListMail pages newest first on it.
      seq bigint generated always as identity unique,
      kind text not null check (kind in ('receipt', 'order_cancelled', 'order_shipped', 'order_refunded')),
      order_id text not null,
      to_address text not null,
      -- What the templates need, from the order event (never a whole foreign row).
      facts jsonb not null,
      subject text not null default '',
      text_body text not null default '',
      html_body text not null default '',
      status text not null default 'queued' check (status in ('queued', 'sent', 'failed')),
      attempt_count integer not null default 0 check (attempt_count >= 0),
      transport text check (transport in ('smtp', 'mailbox')),
      message_id text,
      last_error text,
      -- The worker (replica) that sent it.
      sent_by text,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      sent_at timestamptz,
      constraint mails_one_per_order_and_kind unique (order_id, kind),
      constraint mails_sent_has_transport check ((status = 'sent') = (sent_at is not null and transport is not null))
    )`.execute(db);
  await sql`create index mails_to on mails (lower(to_address), seq desc)`.execute(db);
}
