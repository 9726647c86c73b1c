// Sending through the platform's mail server with nodemailer (a well-kept SMTP client: pooled
// connections, STARTTLS/TLS, RFC 2047 encoding of names and subjects, no dependencies of its own).
// What a failure means for the message is decided here, from the SMTP reply.
import * as nodemailer from "nodemailer";
import type { SmtpConfig } from "../config";

export interface Mail {
  from: string;
  replyTo?: string;
  /** One recipient, already checked; the name is one safe line. */
  to: { name: string; address: string };
  subject: string;
  text: string;
  html?: string;
  messageId: string;
  headers: Record<string, string>;
}

/** Why a send failed, for the message: */
export type SendError =
  /** the server refused this recipient or this message for good (5xx): undeliverable */
  | { kind: "rejected"; reason: string }
  /** a refusal for now (4xx) or another problem with this message: retried with backoff */
  | { kind: "temporary"; reason: string }
  /** the server cannot be reached or refuses us (connection, TLS, login): nobody is tried until it is back */
  | { kind: "server-down"; reason: string };

export class SendFailed extends Error {
  constructor(public error: SendError) {
    super(error.reason);
  }
}

export interface Mailer {
  /** Sends one mail; throws SendFailed. */
  send(mail: Mail): Promise<void>;
  close(): void;
}

/** A nodemailer pool for the stack's wod:smtp (password from the caller: never from the stack file). */
export function smtpMailer(smtp: SmtpConfig, password: string | undefined, opts: { connections?: number; timeoutMs?: number } = {}): Mailer {
  const url = new URL(smtp.url);
  const secure = url.protocol === "smtps:";
  const transport = nodemailer.createTransport({
    host: url.hostname,
    port: Number(url.port || (secure ? 465 : 587)),
    secure,
    auth: smtp.user ? { user: smtp.user, pass: password ?? "" } : undefined,
    pool: true,
    maxConnections: opts.connections ?? 4,
    maxMessages: 1000,
    connectionTimeout: opts.timeoutMs ?? 15_000,
    greetingTimeout: opts.timeoutMs ?? 15_000,
    socketTimeout: 60_000,
    // A message is built only from the strings given: no file or URL is ever read into it.
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return {
    async send(mail) {
      try {
        const info = await transport.sendMail({
          from: mail.from, replyTo: mail.replyTo, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html,
          messageId: mail.messageId, headers: mail.headers,
          // The envelope is exactly the one recipient: nothing in a name or a text can add another.
          envelope: { from: addressOf(mail.from), to: [mail.to.address] },
        });
        if (info.rejected?.length) throw Object.assign(new Error(`recipient refused: ${info.rejectedErrors?.[0]?.message ?? info.response}`), { responseCode: 550, command: "RCPT TO" });
      } catch (e) {
        throw new SendFailed(classify(e));
      }
    },
    close() {
      transport.close();
    },
  };
}

/** The bare address of `Name <a@b>` or `a@b`. */
export function addressOf(from: string): string {
  return /<([^<>]+)>\s*$/.exec(from)?.[1] ?? from.trim();
}

const SERVER_DOWN = new Set(["ECONNECTION", "ETIMEDOUT", "ESOCKET", "EDNS", "EAUTH", "ETLS", "ECONNREFUSED", "ECONNRESET", "EPROTOCOL", "EHOSTUNREACH", "ENOTFOUND"]);

/** nodemailer's error (code, command, responseCode) → what it means for the message. */
export function classify(e: unknown): SendError {
  const err = e as { code?: string; command?: string; responseCode?: number; response?: string; message?: string };
  const reply = oneLine(err.response ?? err.message ?? String(e));
  const code = err.responseCode;
  const command = (err.command ?? "").toUpperCase();
  if (code === 421 || (code === undefined && SERVER_DOWN.has(err.code ?? "")) || command === "CONN" || command === "AUTH PLAIN" || command === "AUTH LOGIN" || err.code === "EAUTH") {
    return { kind: "server-down", reason: `the SMTP server cannot be used: ${reply}` };
  }
  if (code !== undefined && code >= 500 && (command.startsWith("RCPT") || command === "DATA" || err.code === "EENVELOPE" || err.code === "EMESSAGE")) {
    return { kind: "rejected", reason: `refused by the SMTP server: ${reply}` };
  }
  if (code !== undefined && code >= 500 && command.startsWith("MAIL")) {
    // The sender itself is refused: a configuration problem; retried, then given up with the reply.
    return { kind: "temporary", reason: `the SMTP server refuses the sender (wod:smtp.from): ${reply}` };
  }
  return { kind: "temporary", reason: `the SMTP server did not take it: ${reply}` };
}

const oneLine = (s: string) => s.replace(/\s+/g, " ").trim().slice(0, 500);
