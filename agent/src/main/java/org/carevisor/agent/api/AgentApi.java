package org.carevisor.agent.api;

import org.carevisor.agent.host.HostInventoryCollector;
import org.carevisor.agent.report.ReportBuilder;
import org.carevisor.agent.storage.StorageService;
import org.carevisor.agent.vm.VmRegistry;
import org.carevisor.agent.vm.VmSupervisor;
import org.carevisor.agent.AgentException;
import org.carevisor.protocol.ActivateRequest;
import org.carevisor.protocol.ChecksumRequest;
import org.carevisor.protocol.IncomingRequest;
import org.carevisor.agent.vm.MigrationTls;
import org.carevisor.protocol.MigrationFinish;
import org.carevisor.protocol.MigrationRequest;
import org.carevisor.protocol.DiskCreateRequest;
import org.carevisor.protocol.DiskSnapshotRequest;
import org.carevisor.protocol.ExportRequest;
import org.carevisor.protocol.FileMoveRequest;
import org.carevisor.protocol.ImportRequest;
import org.carevisor.protocol.SnapshotRequest;
import org.carevisor.protocol.ShutdownRequest;
import org.carevisor.protocol.StopCause;
import org.carevisor.protocol.VmSpec;

/** The agent's endpoints (protocol v1), each a thin call into the registry or the storage service. */
public final class AgentApi {
    private static final String ID = "/vms/([^/]+)";

    private AgentApi() {
    }

    /** Where this host receives live migrations. */
    public record MigrationPorts(String address, int from, int to) {
    }

    public static Router routes(VmRegistry vms, StorageService storage, HostInventoryCollector inventory,
                                ReportBuilder reports, MigrationPorts migration,
                                org.carevisor.agent.host.HostPowerOff powerOff) {
        return new Router()
                .add("GET", "/host", r -> inventory.collect())
                .add("GET", "/report", r -> reports.build())
                .add("POST", "/host/stop-all-vms", r -> vms.stopAll(r.body(ShutdownRequest.class).timeoutSeconds()))
                .add("POST", "/host/drain", r -> vms.drain(r.body(org.carevisor.protocol.DrainRequest.class).drain()))
                .add("POST", "/host/power-off", r -> powerOff.request())
                .add("GET", "/vms", r -> vms.statuses())
                .add("GET", ID, r -> vms.get(r.param(1)).status())
                .add("DELETE", ID, r -> {
                    vms.undefine(r.param(1));
                    return null;
                })
                .add("POST", ID + "/start", r -> {
                    VmSpec spec = r.body(VmSpec.class);
                    if (!spec.id().equals(r.param(1))) {
                        throw AgentException.badRequest("id-mismatch", "spec id " + spec.id()
                                + " differs from the path's VM id " + r.param(1));
                    }
                    return vms.forStart(r.param(1)).start(spec);
                })
                .add("POST", ID + "/incoming", r -> {
                    IncomingRequest request = r.body(IncomingRequest.class);
                    if (request.spec() == null || !request.spec().id().equals(r.param(1))) {
                        throw AgentException.badRequest("id-mismatch", "the incoming spec must be for VM " + r.param(1));
                    }
                    MigrationTls.checkSourceHost(request.sourceHostId());
                    return vms.forStart(r.param(1)).startIncoming(request.spec(), request.sourceHostId(),
                            migration.address(),
                            migration.from(), migration.to());
                })
                .add("POST", ID + "/incoming/activate", r -> vms.get(r.param(1))
                        .activate(r.body(ActivateRequest.class)))
                .add("DELETE", ID + "/incoming", r -> vms.get(r.param(1)).abortIncoming())
                .add("POST", ID + "/migration", r -> vms.get(r.param(1)).migrate(r.body(MigrationRequest.class)))
                .add("GET", ID + "/migration", r -> vms.get(r.param(1))
                        .migrationStatus(longQuery(r, "waitMs", 0), r.query("after")))
                .add("POST", ID + "/migration/cancel", r -> vms.get(r.param(1)).cancelMigration())
                .add("POST", ID + "/migration/finish", r -> vms.get(r.param(1))
                        .finishMigration(r.body(MigrationFinish.class)))
                .add("POST", ID + "/shutdown", r -> {
                    ShutdownRequest q = r.body(ShutdownRequest.class);
                    return vms.get(r.param(1)).shutdown(q.timeoutSeconds(), q.hostShutdown() ? StopCause.HOST_SHUTDOWN
                            : StopCause.REQUESTED);
                })
                .add("POST", ID + "/poweroff", r -> vms.get(r.param(1))
                        .powerOff(StopCause.REQUESTED, "powered off"))
                .add("POST", ID + "/reset", r -> vms.get(r.param(1)).reset())
                .add("POST", ID + "/pause", r -> vms.get(r.param(1)).pause())
                .add("POST", ID + "/resume", r -> vms.get(r.param(1)).resume())
                .add("GET", ID + "/console", r -> {
                    VmSupervisor vm = vms.get(r.param(1));
                    return vm.files().readConsole(longQuery(r, "offset", -65536), (int) longQuery(r, "max", 0));
                })
                .add("POST", ID + "/snapshots", r -> vms.get(r.param(1)).snapshot(r.body(SnapshotRequest.class)))
                .add("POST", ID + "/snapshots/load", r -> vms.get(r.param(1)).loadSnapshot(r.body(SnapshotRequest.class)))
                .add("POST", ID + "/snapshots/delete",
                        r -> vms.get(r.param(1)).deleteSnapshot(r.body(SnapshotRequest.class)))
                .add("POST", "/disk-snapshots", r -> {
                    storage.diskSnapshot(r.body(DiskSnapshotRequest.class));
                    return null;
                })
                .add("POST", "/files/move", r -> storage.move(r.body(FileMoveRequest.class)))
                .add("POST", "/files/checksums", r -> storage.checksums(r.body(ChecksumRequest.class)))
                .add("DELETE", "/files", r -> {
                    String path = r.query("path");
                    if (path == null || path.isEmpty()) {
                        throw AgentException.badRequest("path-missing", "query parameter path is required");
                    }
                    storage.delete(path);
                    return null;
                })
                .add("POST", "/exports", r -> storage.export(r.body(ExportRequest.class)))
                .add("POST", "/imports", r -> storage.importFile(r.body(ImportRequest.class)))
                .add("POST", "/imports/inspect", r -> storage.inspect(r.body(ImportRequest.class)))
                .add("GET", "/images", r -> storage.images())
                .add("POST", "/disks", r -> storage.createDisk(r.body(DiskCreateRequest.class)))
                .add("DELETE", "/vm-disks/([0-9a-f-]{36})", r -> {
                    if (vms.isRunning(r.param(1))) {
                        throw AgentException.conflict("vm-running", "VM " + r.param(1)
                                + " runs on this host; its disks cannot be deleted");
                    }
                    storage.deleteVmDisks(r.param(1));
                    return null;
                });
    }

    private static long longQuery(Router.Request r, String name, long fallback) {
        String v = r.query(name);
        if (v == null || v.isEmpty()) {
            return fallback;
        }
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw AgentException.badRequest("invalid-query", "query parameter " + name + " must be a number, not '"
                    + v + "'");
        }
    }
}
