import { type Kysely, sql } from "@obfy/kit/db";

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table accounts (
      id uuid primary key,
      email text not null,
      password_hash text not null,
      role text not null check (role in ('shopper', 'admin')),
      created_at timestamptz not null default now(),
      password_changed_at timestamptz not null default now(),
      constraint accounts_email_unique unique (email),
      constraint accounts_email_length check (char_length(email) between 3 and 254)
    )`.execute(db);
  // ListAccounts pages in email order ("C": byte order, the same as the page token compares).
  await sql`create index accounts_email_c on accounts (email collate "C")`.execute(db);

  await sql`
    create table sessions (
      id uuid primary key,
      account_id uuid not null references accounts (id) on delete cascade,
      token_hash bytea not null unique,
      user_agent text not null default '',
      ip_address text not null default '',
      created_at timestamptz not null default now(),
      last_used_at timestamptz not null default now(),
      expires_at timestamptz not null,
      revoked_at timestamptz
    )`.execute(db);
  await sql`create index sessions_live_by_account on sessions (account_id, last_used_at desc) where revoked_at is null`.execute(
    db,
  );

  // Failed sign-ins per account (its normalised email, known or not) and per client address,
  // in the database so every replica counts the same.
  await sql`
    create table sign_in_throttle (
      kind text not null check (kind in ('account', 'address')),
      key text not null,
      failures integer not null check (failures >= 0),
      last_failure_at timestamptz not null,
      locked_until timestamptz,
      primary key (kind, key)
    )`.execute(db);

  await sql`
    create table signing_keys (
      kid text primary key,
      private_jwk jsonb not null,
      public_jwk jsonb not null,
      created_at timestamptz not null default now(),
      activate_at timestamptz not null,
      retire_at timestamptz
    )`.execute(db);

  await sql`
    create table clients (
      id text primary key,
      display_name text not null,
      allowed_scopes text[] not null check (cardinality(allowed_scopes) > 0),
      secret_hash bytea not null,
      created_by text not null,
      created_at timestamptz not null default now(),
      revoked_at timestamptz,
      seq bigint generated always as identity unique
    )`.execute(db);
}
