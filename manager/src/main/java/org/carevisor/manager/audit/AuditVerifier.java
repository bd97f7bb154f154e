package org.carevisor.manager.audit;

import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks the whole audit trail: every record's hash against its content and its predecessor, sequence
 * numbers without gaps, every signed checkpoint (signature by a manager certificate of this CA, and the
 * record it names still has the signed hash) and the chain head. Names the first record that was altered,
 * removed or reordered, and lists further problems (up to 20). Streams the records: memory does not grow
 * with the trail.
 */
public final class AuditVerifier {
    private static final int MAX_PROBLEMS = 20;

    /** One finding: the record's sequence number, the kind (altered, removed, reordered, rewritten, truncated, signature) and what was seen. */
    public record Problem(long seq, String kind, String detail) {
    }

    /** The verification's result. */
    public record Result(boolean ok, long records, long firstSeq, long lastSeq, String headHash, int checkpoints,
                         Instant lastCheckpointAt, Problem first, List<Problem> problems, long millis, String summary) {
    }

    private final AuditLog audit;
    private final X509Certificate ca;

    public AuditVerifier(AuditLog audit, X509Certificate ca) {
        this.audit = audit;
        this.ca = ca;
    }

    public Result verify() {
        long t0 = System.nanoTime();
        Map<Long, AuditCheckpoints.Checkpoint> checkpoints = new HashMap<>();
        List<Problem> problems = new ArrayList<>();
        Instant lastCheckpointAt = null;
        for (AuditCheckpoints.Checkpoint c : AuditCheckpoints.all(audit)) {
            checkpoints.put(c.seq(), c);
            lastCheckpointAt = c.signedAt();
            String bad = AuditCheckpoints.check(c, ca);
            if (bad != null) {
                problems.add(new Problem(c.seq(), "signature", "the checkpoint signed at " + c.signedAt()
                        + " for record " + c.seq() + " is not valid: " + bad));
            }
        }
        State st = new State();
        audit.stream(new AuditLog.Filter(null, null, null, null, null, null, Integer.MAX_VALUE, true), r -> {
            st.records++;
            if (st.records == 1) {
                st.firstSeq = r.seq();
            }
            check(r, st, problems, checkpoints);
            st.lastSeq = r.seq();
        });
        for (AuditCheckpoints.Checkpoint c : checkpoints.values()) {
            if (c.seq() > st.lastSeq) {
                problems.add(new Problem(c.seq(), "removed", "the checkpoint signed at " + c.signedAt()
                        + " covers records up to " + c.seq() + ", but the trail ends at " + st.lastSeq
                        + ": the last records were removed"));
            }
        }
        AuditLog.Head head = audit.head();
        if (head.seq() != st.lastSeq || (st.lastHash != null && !head.hash().equals(st.lastHash))) {
            if (head.seq() > st.lastSeq) {
                problems.add(new Problem(st.lastSeq + 1, "removed", "the chain head names record " + head.seq()
                        + ", but the trail ends at record " + st.lastSeq + ": the last records were removed"));
            } else if (head.seq() < st.lastSeq) {
                problems.add(new Problem(head.seq() + 1, "inserted", "the chain ends at record " + head.seq()
                        + ", but the trail goes on to record " + st.lastSeq + ": records were added outside Carevisor"));
            } else {
                problems.add(new Problem(head.seq(), "altered", "record " + head.seq() + " is not the record the"
                        + " chain head names (" + head.hash().substring(0, 12) + "...)"));
            }
        }
        problems.sort(java.util.Comparator.comparingLong(Problem::seq));
        List<Problem> shown = problems.size() > MAX_PROBLEMS ? problems.subList(0, MAX_PROBLEMS) : problems;
        Problem first = problems.isEmpty() ? null : problems.get(0);
        long millis = Duration.ofNanos(System.nanoTime() - t0).toMillis();
        String summary = first == null
                ? "audit trail intact: " + st.records + " records (" + st.firstSeq + "-" + st.lastSeq + "), "
                + checkpoints.size() + " signed checkpoints" + (lastCheckpointAt == null ? "" : ", last signed "
                + lastCheckpointAt)
                : "AUDIT TRAIL DAMAGED: first problem at record " + first.seq() + " (" + first.kind() + "): "
                + first.detail() + (problems.size() > 1 ? "; " + (problems.size() - 1) + " more" : "");
        return new Result(first == null, st.records, st.firstSeq, st.lastSeq, head.hash(), checkpoints.size(),
                lastCheckpointAt, first, List.copyOf(shown), millis, summary);
    }

    private static final class State {
        long records;
        long firstSeq;
        long lastSeq;
        long expectedSeq = 1;
        String prevHash = AuditChain.GENESIS;
        String lastHash;
    }

    private void check(AuditRecord r, State st, List<Problem> problems, Map<Long, AuditCheckpoints.Checkpoint> cps) {
        boolean gap = false;
        if (r.seq() != st.expectedSeq) {
            if (r.seq() > st.expectedSeq) {
                gap = true;
                add(problems, new Problem(st.expectedSeq, "removed", r.seq() - st.expectedSeq == 1
                        ? "record " + st.expectedSeq + " is missing" : "records " + st.expectedSeq + "-"
                        + (r.seq() - 1) + " are missing"));
            }
            st.expectedSeq = r.seq();
        }
        String computed = r.hash() == null || r.prevHash() == null ? null : AuditChain.hashOf(r.prevHash(), r);
        boolean selfOk = computed != null && computed.equals(r.hash());
        boolean linkOk = st.prevHash.equals(r.prevHash());
        if (!selfOk) {
            Long moved = originalPosition(r);
            if (moved != null) {
                add(problems, new Problem(r.seq(), "reordered", "record " + r.seq() + " (" + describe(r)
                        + ") was written as record " + moved + ": the order of records was changed"));
            } else if (r.hash() == null) {
                add(problems, new Problem(r.seq(), "inserted", "record " + r.seq() + " (" + describe(r)
                        + ") has no hash: it was added outside Carevisor"));
            } else {
                add(problems, new Problem(r.seq(), "altered", "record " + r.seq() + " (" + describe(r)
                        + ") was changed after it was written: its content no longer matches its hash"));
            }
        } else if (!linkOk && !gap) {
            Long predecessor = seqOfHash(r.prevHash());
            if (predecessor != null && predecessor != r.seq() - 1) {
                add(problems, new Problem(r.seq(), "reordered", "record " + r.seq() + " (" + describe(r)
                        + ") was written after record " + predecessor + ", not after record " + (r.seq() - 1)
                        + ": the order of records was changed"));
            } else {
                add(problems, new Problem(r.seq() - 1, predecessor == null ? "altered" : "reordered", "record "
                        + (r.seq() - 1) + " is not the record that record " + r.seq() + " was written after: it was"
                        + " altered (with its hash recomputed), or records were removed before " + r.seq()
                        + " and the rest renumbered"));
            }
        }
        AuditCheckpoints.Checkpoint c = cps.get(r.seq());
        if (c != null && !c.hash().equals(r.hash())) {
            add(problems, new Problem(r.seq(), "rewritten", "record " + r.seq() + " no longer has the hash signed at "
                    + c.signedAt() + ": the chain up to it was rewritten (hashes recomputed) after that checkpoint"));
        }
        st.prevHash = r.hash() == null ? st.prevHash : r.hash();
        st.lastHash = r.hash();
        st.expectedSeq = r.seq() + 1;
    }

    /** The sequence number a record was written with, when its content matches its hash under another one. */
    private Long originalPosition(AuditRecord r) {
        if (r.hash() == null || r.prevHash() == null) {
            return null;
        }
        Long predecessor = seqOfHash(r.prevHash());
        List<Long> candidates = new ArrayList<>();
        if (predecessor != null) {
            candidates.add(predecessor + 1);
        }
        for (long d = 1; d <= 64; d++) {
            candidates.add(r.seq() + d);
            candidates.add(r.seq() - d);
        }
        for (long s : candidates) {
            if (s <= 0 || s == r.seq()) {
                continue;
            }
            AuditRecord moved = new AuditRecord(s, r.at(), r.actor(), r.actorId(), r.action(), r.targetType(),
                    r.targetId(), r.targetName(), r.oldValue(), r.newValue(), r.reason(), r.outcome(),
                    r.clientAddress(), r.taskId(), r.signature(), r.prevHash(), r.hash());
            if (AuditChain.hashOf(r.prevHash(), moved).equals(r.hash())) {
                return s;
            }
        }
        return null;
    }

    private Long seqOfHash(String hash) {
        return audit.jdbi().withHandle(h -> h.createQuery("SELECT seq FROM audit_log WHERE hash = :h")
                .bind("h", hash).mapTo(Long.class).findFirst().orElse(null));
    }

    private static String describe(AuditRecord r) {
        return r.action() + " of " + (r.targetName() == null ? r.targetId() : r.targetName()) + " by " + r.actor()
                + " at " + r.at();
    }

    private static void add(List<Problem> problems, Problem p) {
        if (problems.size() < 10 * MAX_PROBLEMS) {
            problems.add(p);
        }
    }
}
