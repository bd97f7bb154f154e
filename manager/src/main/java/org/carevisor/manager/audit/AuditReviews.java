package org.carevisor.manager.audit;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.carevisor.manager.api.ApiException;
import org.carevisor.manager.db.Sql;

/**
 * Reviews of the audit trail (EU GMP Annex 11 §9): a reviewer checks a period, writes a conclusion and signs
 * it. The review records the period, how many records it had, the chain head and whether the chain was
 * intact at that moment; the review itself is an audit record carrying the reviewer's signature.
 */
public final class AuditReviews {
    private final AuditLog audit;
    private final AuditVerifier verifier;

    public AuditReviews(AuditLog audit, AuditVerifier verifier) {
        this.audit = audit;
        this.verifier = verifier;
    }

    public Map<String, Object> create(Instant from, Instant asked, String conclusion, Actor actor) {
        if (conclusion == null || conclusion.isBlank() || conclusion.length() > 4000) {
            throw ApiException.invalid("conclusion", "is required: what the review found (at most 4000 characters)");
        }
        if (actor.signature() == null) {
            throw new ApiException(403, "signature-required", "Signature required", "a review must be signed",
                    List.of(new ApiException.FieldError("signature", "is required")));
        }
        Instant now = Instant.now();
        if (!from.isBefore(now)) {
            throw ApiException.invalid("from", "the period starts at " + from + ", which has not come yet");
        }
        // a review covers what has been recorded when it is signed, not what may come later
        Instant to = asked.isAfter(now) ? now : asked;
        long count = audit.count(new AuditLog.Filter(from, to, null, null, null, null, Integer.MAX_VALUE, true));
        if (count == 0) {
            throw new ApiException(422, "review-period-empty", "Nothing to review", "the period " + from + " - " + to
                    + " holds no audit records, so there is nothing to review and nothing was signed; check --from and"
                    + " --to (a date alone in --to includes that whole day)", List.of(new ApiException.FieldError("to",
                    "the period holds no records")));
        }
        AuditVerifier.Result chain = verifier.verify();
        String id = UUID.randomUUID().toString();
        Map<String, Object> value = new LinkedHashMap<>();
        value.put("id", id);
        value.put("from", from.toString());
        value.put("to", to.toString());
        value.put("records", count);
        value.put("chainIntact", chain.ok());
        value.put("chainHead", chain.lastSeq() + ":" + chain.headHash());
        value.put("conclusion", conclusion);
        audit.jdbi().useTransaction(h -> {
            long seq = audit.record(h, new AuditLog.Entry(actor, "audit.review", "audit", id, "review " + from + " - " + to,
                    null, value, null, AuditLog.Outcome.SUCCESS, null));
            h.createUpdate("""
                    INSERT INTO audit_reviews (id, period_from, period_to, record_count, last_seq, head_hash, chain_ok,
                      conclusion, reviewer_id, reviewer_name, meaning, signed_at, audit_seq)
                    VALUES (:id, :f, :t, :n, :last, :head, :ok, :c, :uid, :name, :meaning, :at, :seq)""")
                    .bind("id", id).bind("f", Sql.ts(from)).bind("t", Sql.ts(to)).bind("n", count)
                    .bind("last", chain.lastSeq()).bind("head", chain.headHash()).bind("ok", chain.ok())
                    .bind("c", conclusion).bind("uid", actor.userId()).bind("name", actor.signature().printedName())
                    .bind("meaning", actor.signature().meaning()).bind("at", Sql.ts(actor.signature().signedAt()))
                    .bind("seq", seq).execute();
        });
        return get(id);
    }

    public Map<String, Object> get(String id) {
        return list().stream().filter(r -> r.get("id").equals(id)).findFirst()
                .orElseThrow(() -> ApiException.notFound("review", id));
    }

    public List<Map<String, Object>> list() {
        return audit.jdbi().withHandle(h -> h.createQuery("SELECT * FROM audit_reviews ORDER BY signed_at DESC")
                .map((rs, c) -> {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("id", rs.getString("id"));
                    m.put("from", Sql.instant(rs, "period_from"));
                    m.put("to", Sql.instant(rs, "period_to"));
                    m.put("records", rs.getLong("record_count"));
                    m.put("lastSeq", rs.getLong("last_seq"));
                    m.put("chainIntact", rs.getBoolean("chain_ok"));
                    m.put("conclusion", rs.getString("conclusion"));
                    m.put("auditSeq", rs.getLong("audit_seq"));
                    m.put("signature", new AuditRecord.SignatureView(rs.getString("reviewer_name"),
                            rs.getString("meaning"), Sql.instant(rs, "signed_at")));
                    return m;
                }).list());
    }
}
