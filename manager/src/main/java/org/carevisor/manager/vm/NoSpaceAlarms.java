package org.carevisor.manager.vm;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.carevisor.manager.alarm.Alarms;
import org.carevisor.manager.audit.Actor;
import org.carevisor.manager.audit.AuditLog;
import org.carevisor.manager.audit.AuditLog.Outcome;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmState;

/**
 * Raises an alarm for every VM that QEMU paused because the storage ran full ({@code vm-paused-no-space:<name>}):
 * its guest waits for a write and its service is down until space is freed, so {@code GET /api/v1/health} is
 * degraded and names it. Raising and clearing are audited. The host resumes the VM by itself once space is free;
 * the alarm clears with it. Called periodically.
 */
public final class NoSpaceAlarms {
    static final String PREFIX = "vm-paused-no-space:";

    private final ObservedStore observed;
    private final VmRepository vms;
    private final Alarms alarms;
    private final AuditLog audit;

    public NoSpaceAlarms(ObservedStore observed, VmRepository vms, Alarms alarms, AuditLog audit) {
        this.observed = observed;
        this.vms = vms;
        this.alarms = alarms;
        this.audit = audit;
    }

    /** What one pass changes: alarms to raise (code to reason) and codes to clear. */
    record Changes(Map<String, String> raise, Set<String> clear) {
    }

    /**
     * The deciding step, pure: {@code paused} maps each VM paused for space (by name) to what its host said,
     * {@code active} are the alarm codes raised now (of every kind).
     */
    static Changes decide(Map<String, String> paused, List<String> active) {
        Map<String, String> raise = new LinkedHashMap<>();
        paused.forEach((name, said) -> raise.put(PREFIX + name, "VM " + name + " is paused: " + said
                + "; free space on the storage (delete old snapshots, exports or archived VMs, or grow it)"));
        Set<String> clear = new TreeSet<>();
        for (String code : active) {
            if (code.startsWith(PREFIX) && !raise.containsKey(code)) {
                clear.add(code);
            }
        }
        return new Changes(raise, clear);
    }

    public void pass() {
        Map<String, String> paused = new LinkedHashMap<>();
        Map<String, String> ids = new LinkedHashMap<>();
        for (ObservedStore.Observed o : observed.all()) {
            if (o.status().state() == VmState.PAUSED && o.status().cause() == StopCause.NO_SPACE) {
                vms.find(o.status().vmId()).ifPresent(vm -> {
                    paused.put(vm.name(), o.status().reason());
                    ids.put(vm.name(), vm.id());
                });
            }
        }
        Changes c = decide(paused, alarms.active().stream().map(Alarms.Alarm::code).toList());
        c.raise().forEach((code, reason) -> {
            String name = code.substring(PREFIX.length());
            if (!alarms.raised(code)) {
                audit.record(new AuditLog.Entry(Actor.system("alarms"), "vm.no-space-alarm", "vm", ids.get(name),
                        name, null, Map.of("alarm", code), reason, Outcome.FAILURE, null));
            }
            alarms.raise(code, reason);
        });
        for (String code : c.clear()) {
            if (alarms.clear(code)) {
                String name = code.substring(PREFIX.length());
                String id = vms.findByName(name).map(VmRecord::id).orElse(null);
                audit.record(new AuditLog.Entry(Actor.system("alarms"), "vm.no-space-alarm", "vm", id, name,
                        Map.of("alarm", code), null, "cleared: VM " + name + " is no longer paused for a full storage",
                        Outcome.SUCCESS, null));
            }
        }
    }
}
