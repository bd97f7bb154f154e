package org.carevisor.manager.host;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.carevisor.manager.api.ApiException;
import org.carevisor.protocol.AgentEndpoint;
import org.carevisor.protocol.HostAddress;
import org.carevisor.protocol.HostInventory;
import org.carevisor.protocol.HostReport;
import org.carevisor.protocol.LeaseSeen;
import org.carevisor.protocol.MigrationUri;
import org.carevisor.protocol.SignedLease;
import org.carevisor.protocol.VmStatus;

/**
 * The shape of a heartbeat report, checked before anything of it is used: every list and every string is
 * bounded (well above what an agent sends: a host runs far fewer than {@link #MAX_VMS} VMs, QEMU's messages are
 * shorter than {@link #MAX_REASON}), every id is a UUID, every address parses. A report that breaks one is not
 * the work of an honest agent and is refused as a whole ({@code 400 report-invalid}, naming the first fields at
 * fault). What a host may say about itself and its VMs is checked elsewhere, against what is registered.
 * Stateless.
 */
public final class ReportValidator {
    public static final int MAX_VMS = 1024;
    public static final int MAX_LEASES = 256;
    public static final int MAX_RELEASED = 1024;
    public static final int MAX_FORWARDS = 64;
    public static final int MAX_WARNINGS = 64;
    public static final int MAX_LIST = 1024;
    public static final int MAX_REASON = 4096;
    public static final int MAX_TEXT = 1024;
    private static final Pattern UUID = Pattern.compile(
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,252}");
    private static final int MAX_ERRORS = 10;

    private ReportValidator() {
    }

    /** Refuses the report ({@code 400 report-invalid}) when its shape is wrong. */
    public static void validate(HostReport r) {
        List<ApiException.FieldError> errors = problems(r);
        if (!errors.isEmpty()) {
            String detail = errors.stream().map(e -> e.field() + ": " + e.message())
                    .reduce((a, b) -> a + "; " + b).orElse("");
            throw new ApiException(400, "report-invalid", "Report refused", detail, errors);
        }
    }

    /** Every problem found (at most a few; the first ones tell enough). */
    static List<ApiException.FieldError> problems(HostReport r) {
        Errors e = new Errors();
        HostInventory inv = r.inventory();
        if (inv == null) {
            e.add("inventory", "is missing");
            return e.list;
        }
        e.pattern("inventory.hostId", inv.hostId(), UUID, "a lower-case UUID");
        e.pattern("inventory.hostname", inv.hostname(), NAME, "a host name");
        try {
            AgentEndpoint.parse(inv.endpoint());
        } catch (IllegalArgumentException x) {
            e.add("inventory.endpoint", x.getMessage());
        }
        if (inv.migrationAddress() != null) {
            try {
                HostAddress.parse(inv.migrationAddress());
            } catch (IllegalArgumentException x) {
                e.add("inventory.migrationAddress", x.getMessage());
            }
        }
        boolean noRange = inv.migrationPortFrom() == 0 && inv.migrationPortTo() == 0;
        if (!noRange && (inv.migrationPortFrom() < MigrationUri.MIN_PORT || inv.migrationPortTo() > MigrationUri.MAX_PORT
                || inv.migrationPortFrom() > inv.migrationPortTo())) {
            e.add("inventory.migrationPortFrom", "the migration port range must lie within " + MigrationUri.MIN_PORT
                    + "-" + MigrationUri.MAX_PORT);
        }
        e.nonNegative("inventory", inv.cpus(), inv.memoryMiB(), inv.memoryAvailableMiB(), inv.storageTotalBytes(),
                inv.storageFreeBytes(), inv.localStorageFreeBytes());
        e.text("inventory.cpuModelName", inv.cpuModelName(), 256);
        e.text("inventory.storagePath", inv.storagePath(), 4096);
        e.text("inventory.qemuVersion", inv.qemuVersion(), 256);
        e.text("inventory.accelerator", inv.accelerator(), 16);
        e.text("inventory.agentVersion", inv.agentVersion(), 64);
        e.text("inventory.storageDomainId", inv.storageDomainId(), 64);
        e.list("inventory.warnings", inv.warnings(), MAX_WARNINGS, MAX_TEXT);
        e.list("inventory.cpuModels", inv.cpuModels(), MAX_LIST, 128);
        e.list("inventory.bridges", inv.bridges(), MAX_LIST, 64);
        if (r.vms().size() > MAX_VMS) {
            e.add("vms", "at most " + MAX_VMS + " VMs, not " + r.vms().size());
        } else {
            Set<String> ids = new HashSet<>();
            for (int i = 0; i < r.vms().size() && e.room(); i++) {
                VmStatus s = r.vms().get(i);
                String f = "vms[" + i + "]";
                if (s == null) {
                    e.add(f, "is null");
                    continue;
                }
                if (e.pattern(f + ".vmId", s.vmId(), UUID, "a lower-case UUID") && !ids.add(s.vmId())) {
                    e.add(f + ".vmId", "VM " + s.vmId() + " is listed twice");
                }
                if (s.state() == null) {
                    e.add(f + ".state", "is missing");
                }
                e.text(f + ".reason", s.reason(), MAX_REASON);
                if (s.forwards().size() > MAX_FORWARDS) {
                    e.add(f + ".forwards", "at most " + MAX_FORWARDS);
                }
            }
        }
        if (r.leases().size() > MAX_LEASES) {
            e.add("leases", "at most " + MAX_LEASES + " leases, not " + r.leases().size());
        } else {
            for (int i = 0; i < r.leases().size() && e.room(); i++) {
                LeaseSeen l = r.leases().get(i);
                String f = "leases[" + i + "]";
                if (l == null) {
                    e.add(f, "is null");
                    continue;
                }
                // what a lease says is its owner's, relayed: its shape is bounded here, and the HA service believes
                // only what the owner signed (a peer writing nonsense into the storage cannot get reports refused)
                e.text(f + ".hostId", l.hostId(), 253);
                e.text(f + ".writer", l.writer(), 64);
                e.text(f + ".text", l.text(), SignedLease.MAX_TEXT);
                e.list(f + ".released", l.released(), MAX_RELEASED, 253);
            }
        }
        return e.list;
    }

    /** Collects field errors, a bounded number of them. */
    private static final class Errors {
        final List<ApiException.FieldError> list = new ArrayList<>();

        boolean room() {
            return list.size() < MAX_ERRORS;
        }

        void add(String field, String message) {
            if (room()) {
                list.add(new ApiException.FieldError(field, message));
            }
        }

        boolean pattern(String field, String value, Pattern p, String what) {
            if (value == null || value.length() > 253 || !p.matcher(value).matches()) {
                add(field, "must be " + what);
                return false;
            }
            return true;
        }

        void text(String field, String value, int max) {
            if (value != null && value.length() > max) {
                add(field, "at most " + max + " characters, not " + value.length());
            }
        }

        void list(String field, List<String> values, int maxItems, int maxChars) {
            if (values.size() > maxItems) {
                add(field, "at most " + maxItems + " entries, not " + values.size());
                return;
            }
            for (String v : values) {
                if (v == null || v.length() > maxChars) {
                    add(field, "entries must be at most " + maxChars + " characters");
                    return;
                }
            }
        }

        void nonNegative(String field, long... values) {
            for (long v : values) {
                if (v < 0) {
                    add(field, "sizes and counts must not be negative");
                    return;
                }
            }
        }
    }
}
