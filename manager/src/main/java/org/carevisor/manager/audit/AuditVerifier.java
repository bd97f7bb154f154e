package org.carevisor.manager.audit;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks the whole audit trail: every record's hash against its content and its predecessor, sequence numbers
 * without gaps, every checkpoint (a chained one: signed with the checkpoint key and linked to the one before it,
 * so a removed checkpoint is found; one made before the chain: signed by a manager certificate of the CA), that
 * each record a checkpoint names still has the signed hash, the anchor file (its newest checkpoint must still be in
 * the database and the head must not be older than it), and the chain head. Names the first record that was
 * altered, removed or reordered, and lists further problems (up to 20). Streams the records: memory does not grow
 * with the trail.
 */
public final class AuditVerifier {
    private static final int MAX_PROBLEMS = 20;

    /**
     * One finding: the record's sequence number and the kind - altered, removed, reordered, inserted, rewritten
     * (hashes recomputed after a checkpoint), signature (a checkpoint that does not verify), checkpoint-missing,
     * checkpoint-chain (checkpoints removed, changed or added), head-behind-anchor (the trail was cut back behind
     * its anchored checkpoint), anchor (the anchor file is missing, unreadable or of another trail) - and what was
     * seen.
     */
    public record Problem(long seq, String kind, String detail) {
    }

    /** The verification's result; {@code anchoredSeq} is the record of the anchor file's newest checkpoint. */
    public record Result(boolean ok, long records, long firstSeq, long lastSeq, String headHash, int checkpoints,
                         Instant lastCheckpointAt, Problem first, List<Problem> problems, long millis, String summary,
                         String anchorFile, Long anchoredSeq) {
    }

    private final AuditLog audit;
    private final AuditTrust trust;

    public AuditVerifier(AuditLog audit, AuditTrust trust) {
        this.audit = audit;
        this.trust = trust;
    }

    public Result verify() {
        return verify(true);
    }

    /**
     * The same without the anchor file: whether the database's trail is consistent in itself (for re-anchoring
     * after an acknowledged loss, {@link AuditReanchor}).
     */
    public Result verifyDatabaseOnly() {
        return verify(false);
    }

    private Result verify(boolean withAnchor) {
        long t0 = System.nanoTime();
        List<Problem> problems = new ArrayList<>();
        String trail = audit.trailId();
        CheckpointStats cps = checkCheckpoints(trail, problems);
        AuditAnchor.Entry anchored = withAnchor ? readAnchor(trail, cps, problems) : null;
        State st = new State();
        CheckpointCursor cursor = new CheckpointCursor(audit);
        audit.stream(new AuditLog.Filter(null, null, null, null, null, null, Integer.MAX_VALUE, true), r -> {
            st.records++;
            if (st.records == 1) {
                st.firstSeq = r.seq();
            }
            AuditCheckpoints.Checkpoint c = cursor.at(r.seq());
            if (c == null && anchored != null && anchored.checkpoint().seq() == r.seq()) {
                c = anchored.checkpoint();
            }
            check(r, st, problems, c);
            st.lastSeq = r.seq();
        });
        for (AuditCheckpoints.Checkpoint c = cursor.after(st.lastSeq); c != null; c = cursor.after(c.seq())) {
            add(problems, new Problem(c.seq(), "removed", "the checkpoint signed at " + c.signedAt()
                    + " covers records up to " + c.seq() + ", but the trail ends at " + st.lastSeq
                    + ": the last records were removed"));
            if (problems.size() >= 10 * MAX_PROBLEMS) {
                break;
            }
        }
        AuditLog.Head head = audit.head();
        if (anchored != null && head.seq() < anchored.checkpoint().seq()) {
            AuditCheckpoints.Checkpoint a = anchored.checkpoint();
            problems.add(new Problem(a.seq(), "head-behind-anchor", "the chain head is record " + head.seq()
                    + ", but the anchor file " + trust.anchor().file() + " holds the checkpoint for record " + a.seq()
                    + " signed at " + a.signedAt() + ": records " + (head.seq() + 1) + "-" + a.seq()
                    + " and their checkpoint(s) were removed"));
        }
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
        Long anchoredSeq = anchored == null ? null : anchored.checkpoint().seq();
        String summary = first == null
                ? "audit trail intact: " + st.records + " records (" + st.firstSeq + "-" + st.lastSeq + "), "
                + cps.count + " signed checkpoints" + (cps.lastAt == null ? "" : ", last signed " + cps.lastAt)
                + (anchoredSeq == null ? "" : "; anchored up to record " + anchoredSeq + " in " + trust.anchor().file())
                : "AUDIT TRAIL DAMAGED: first problem at record " + first.seq() + " (" + first.kind() + "): "
                + first.detail() + (problems.size() > 1 ? "; " + (problems.size() - 1) + " more" : "");
        return new Result(first == null, st.records, st.firstSeq, st.lastSeq, head.hash(), (int) cps.count,
                cps.lastAt, first, List.copyOf(shown), millis, summary, trust.anchor().file().toString(),
                anchoredSeq);
    }

    /** What the pass over the checkpoints saw. */
    private static final class CheckpointStats {
        long count;
        long chained;
        Instant lastAt;
        AuditCheckpoints.Checkpoint lastChained;
    }

    /**
     * The checkpoints in pages of 1000, oldest first, each page read in a short query of its own (no connection
     * is held while the records stream; memory does not grow with the number of checkpoints). Not thread-safe.
     */
    private static final class CheckpointCursor {
        private final AuditLog audit;
        private java.util.ArrayDeque<AuditCheckpoints.Checkpoint> page = new java.util.ArrayDeque<>();
        private long readUpTo = -1;
        private boolean done;

        CheckpointCursor(AuditLog audit) {
            this.audit = audit;
        }

        private AuditCheckpoints.Checkpoint peek() {
            if (page.isEmpty() && !done) {
                List<AuditCheckpoints.Checkpoint> next = AuditCheckpoints.page(audit, readUpTo, 1000);
                done = next.size() < 1000;
                if (!next.isEmpty()) {
                    readUpTo = next.getLast().seq();
                }
                page = new java.util.ArrayDeque<>(next);
            }
            return page.peekFirst();
        }

        /** The checkpoint of record {@code seq} (calls in increasing {@code seq}), or null. */
        AuditCheckpoints.Checkpoint at(long seq) {
            while (peek() != null && peek().seq() < seq) {
                page.pollFirst();
            }
            return peek() != null && peek().seq() == seq ? page.pollFirst() : null;
        }

        /** The first checkpoint of a record after {@code seq}, or null. */
        AuditCheckpoints.Checkpoint after(long seq) {
            while (peek() != null && peek().seq() <= seq) {
                page.pollFirst();
            }
            return peek();
        }
    }

    /** Checks each checkpoint's signature and the links of the chain, streaming. */
    private CheckpointStats checkCheckpoints(String trail, List<Problem> problems) {
        CheckpointStats stats = new CheckpointStats();
        CheckpointChain.LegacyLink legacy = new CheckpointChain.LegacyLink();
        String[] link = {null};
        AuditCheckpoints.Checkpoint[] previous = {null};
        CheckpointCursor cursor = new CheckpointCursor(audit);
        for (AuditCheckpoints.Checkpoint c = cursor.after(-1); c != null; c = cursor.after(c.seq())) {
            stats.count++;
            stats.lastAt = c.signedAt();
            if (c.version() == 1) {
                String bad = CheckpointChain.checkLegacy(c, trust.legacyCa());
                if (bad != null) {
                    add(problems, new Problem(c.seq(), "signature", "the checkpoint signed at " + c.signedAt()
                            + " for record " + c.seq() + " is not valid: " + bad));
                }
                if (stats.chained > 0) {
                    add(problems, new Problem(c.seq(), "checkpoint-chain", "the checkpoint for record " + c.seq()
                            + " is of the kind made before the chain, but appears after chained checkpoints: it was"
                            + " added outside Carevisor"));
                } else {
                    legacy.add(c);
                }
                continue;
            }
            if (link[0] == null) {
                link[0] = legacy.value();
            }
            stats.chained++;
            stats.lastChained = c;
            String bad = CheckpointChain.check(c, trail, trust.key());
            if (bad != null) {
                add(problems, new Problem(c.seq(), "signature", "the checkpoint signed at " + c.signedAt()
                        + " for record " + c.seq() + " is not valid: " + bad));
            } else if (!link[0].equals(c.prevCheckpoint())) {
                add(problems, new Problem(c.seq(), "checkpoint-missing", previous[0] == null
                        ? "the first chained checkpoint (for record " + c.seq() + ", signed at " + c.signedAt()
                        + ") does not follow the checkpoints before it: a checkpoint before record " + c.seq()
                        + " was removed or changed"
                        : "the checkpoint for record " + c.seq() + " (signed at " + c.signedAt() + ") was not made"
                        + " after the checkpoint for record " + previous[0].seq() + ": a checkpoint between records "
                        + previous[0].seq() + " and " + c.seq() + " was removed"));
            }
            link[0] = c.checkpointHash();
            previous[0] = c;
        }
        return stats;
    }

    /** The anchor file's newest checkpoint (null: none), with problems when it is not found in the database. */
    private AuditAnchor.Entry readAnchor(String trail, CheckpointStats cps, List<Problem> problems) {
        String file = trust.anchor().file().toString();
        AuditAnchor.Entry e;
        try {
            e = trust.anchor().last();
        } catch (java.io.IOException | IllegalArgumentException ex) {
            problems.add(new Problem(0, "anchor", "the anchor file " + file + " cannot be read: " + ex.getMessage()));
            return null;
        }
        if (e == null) {
            if (cps.chained > 0) {
                problems.add(new Problem(cps.lastChained.seq(), "anchor", "the database holds " + cps.chained
                        + " chained checkpoint(s), the newest for record " + cps.lastChained.seq() + ", but the anchor"
                        + " file " + file + " is missing or empty: restore it from its backup or copy"));
            }
            return null;
        }
        AuditCheckpoints.Checkpoint a = e.checkpoint();
        if (!trail.equals(e.trail())) {
            problems.add(new Problem(a.seq(), "anchor", "the anchor file " + file + " belongs to audit trail "
                    + e.trail() + ", but this database's trail is " + trail + ": another manager's anchor file, or"
                    + " the trail id in the database was changed"));
            return null;
        }
        String bad = CheckpointChain.check(a, trail, trust.key());
        if (bad != null) {
            problems.add(new Problem(a.seq(), "anchor", "the last line of the anchor file " + file
                    + " (the checkpoint for record " + a.seq() + ") is not valid: " + bad));
            return null;
        }
        if (!AuditCheckpoints.hasCheckpoint(audit, a.checkpointHash())) {
            boolean replaced = !AuditCheckpoints.page(audit, a.seq() - 1, 1).stream().filter(c -> c.seq() == a.seq())
                    .toList().isEmpty();
            problems.add(new Problem(a.seq(), "checkpoint-missing", "the checkpoint for record " + a.seq()
                    + " signed at " + a.signedAt() + ", kept in the anchor file " + file + ", is missing from the"
                    + " database: it was removed" + (replaced ? " and replaced by another one" : "")));
        }
        return e;
    }

    private static final class State {
        long records;
        long firstSeq;
        long lastSeq;
        long expectedSeq = 1;
        String prevHash = AuditChain.GENESIS;
        String lastHash;
    }

    private void check(AuditRecord r, State st, List<Problem> problems, AuditCheckpoints.Checkpoint c) {
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
        if (c != null && !c.hash().equals(r.hash())) {
            add(problems, new Problem(r.seq(), "rewritten", "record " + r.seq() + " no longer has the hash signed at "
                    + c.signedAt() + ": the chain up to it was rewritten (hashes recomputed) after that checkpoint"
                    + " was made"));
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
