package org.carevisor.manager.placement;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The scheduler's decision table: every refusal reason, should-rules, and the order of preference. */
class SchedulerTest {
    private static final Scheduler.ClusterState CLUSTER = new Scheduler.ClusterState("c1", "prod", "qemu64", "dom-1",
            4.0, 1.0);

    private static Scheduler.HostState host(String name) {
        return host(name, "c1", true, false, Set.of(), 0, 0);
    }

    private static Scheduler.HostState host(String name, String cluster, boolean connected, boolean maintenance,
                                            Set<String> tags, int usedCpus, long usedMemory) {
        return new Scheduler.HostState(name, name, cluster, connected, false, maintenance, 4, 8192, 1024, "dom-1",
                tags, Set.of("br0"), List.of("qemu64", "Haswell"), usedCpus, usedMemory, 6000);
    }

    private static Scheduler.Request vm(String id, int memory) {
        return new Scheduler.Request(id, id, "c1", 1, memory, Set.of(), null, null, false, null, true);
    }

    private static Scheduler.Decision place(Scheduler.Request r, List<Scheduler.HostState> hosts, List<Rule> rules,
                                            Map<String, String> where) {
        return Scheduler.place(r, CLUSTER, hosts, rules, new Scheduler.Placements(where, Map.of()));
    }

    private static String why(Scheduler.Decision d, String host) {
        return String.join("; ", d.verdicts().stream().filter(v -> v.hostId().equals(host)).findFirst().orElseThrow()
                .refusals());
    }

    @Test
    void everyHostRefusalIsNamed() {
        List<Scheduler.HostState> hosts = List.of(
                host("other", "c2", true, false, Set.of(), 0, 0),
                host("down", "c1", false, false, Set.of(), 0, 0),
                host("maint", "c1", true, true, Set.of(), 0, 0),
                host("full", "c1", true, false, Set.of(), 0, 6900),
                host("busy", "c1", true, false, Set.of(), 16, 0),
                new Scheduler.HostState("nodomain", "nodomain", "c1", true, false, false, 4, 8192, 1024, "dom-9",
                        Set.of(), Set.of("br0"), List.of("qemu64"), 0, 0, 6000),
                new Scheduler.HostState("oldcpu", "oldcpu", "c1", true, false, false, 4, 8192, 1024, "dom-1",
                        Set.of(), Set.of("br0"), List.of("kvm64"), 0, 0, 6000),
                new Scheduler.HostState("nobridge", "nobridge", "c1", true, false, false, 4, 8192, 1024, "dom-1",
                        Set.of(), Set.of(), List.of("qemu64"), 0, 0, 6000),
                new Scheduler.HostState("tight", "tight", "c1", true, false, false, 4, 8192, 1024, "dom-1",
                        Set.of(), Set.of("br0"), List.of("qemu64"), 0, 0, 100));
        Scheduler.Request r = new Scheduler.Request("v", "v", "c1", 1, 512, Set.of("br0"), null, null, false, null,
                true);
        Scheduler.Decision d = place(r, hosts, List.of(), Map.of());
        assertThat(d.hostId()).isEmpty();
        assertThat(why(d, "other")).contains("in another cluster");
        assertThat(why(d, "down")).contains("not reporting");
        assertThat(why(d, "maint")).contains("in maintenance");
        assertThat(why(d, "full")).contains("not enough memory: 512 MiB needed, 268 of 7168 MiB free");
        assertThat(why(d, "busy")).contains("not enough CPU: 1 vCPUs needed, 0 of 16 free");
        assertThat(why(d, "nodomain")).contains("storage domain dom-1");
        assertThat(why(d, "oldcpu")).contains("CPU model qemu64");
        assertThat(why(d, "nobridge")).contains("has no bridge br0");
        assertThat(why(d, "tight")).contains("only 100 MiB of memory available");
        assertThat(d.explain()).contains("host maint: in maintenance").contains("host full: not enough memory");
    }

    @Test
    void overcommitAndReservedMemoryDefineCapacity() {
        Scheduler.ClusterState generous = new Scheduler.ClusterState("c1", "prod", "qemu64", null, 4.0, 1.5);
        Scheduler.HostState h = host("h", "c1", true, false, Set.of(), 0, 7168);
        // 7168 used of (8192 - 1024) x 1.5 = 10752
        Scheduler.Decision d = Scheduler.place(vm("v", 2048), generous, List.of(h), List.of(),
                new Scheduler.Placements(Map.of(), Map.of()));
        assertThat(d.hostId()).contains("h");
        assertThat(Scheduler.place(vm("v", 4096), generous, List.of(h), List.of(),
                new Scheduler.Placements(Map.of(), Map.of())).hostId()).isEmpty();
    }

    @Test
    void aDefinedVmIsOnlyCheckedForSizeNotLoad() {
        Scheduler.HostState full = host("full", "c1", true, false, Set.of(), 64, 7168);
        Scheduler.Request define = new Scheduler.Request("v", "v", "c1", 1, 512, Set.of(), null, null, false, null,
                false);
        assertThat(place(define, List.of(full), List.of(), Map.of()).hostId()).contains("full");
        Scheduler.Request huge = new Scheduler.Request("v", "v", "c1", 1, 9000, Set.of(), null, null, false, null,
                false);
        assertThat(why(place(huge, List.of(full), List.of(), Map.of()), "full")).contains("at most 7168");
    }

    @Test
    void mustRulesBlockAndShouldRulesOnlyPrefer() {
        List<Scheduler.HostState> hosts = List.of(host("h1"), host("h2"), host("h3", "c1", true, false,
                Set.of("lic-pacs"), 0, 0));
        Map<String, String> where = new HashMap<>(Map.of("pacs-b", "h1", "db", "h2"));
        Rule apart = new Rule("r1", "pair", Rule.Kind.VM_ANTI_AFFINITY, true, Set.of("pacs-a", "pacs-b"), null, false,
                null);
        Rule together = new Rule("r2", "app-db", Rule.Kind.VM_AFFINITY, false, Set.of("pacs-a", "db"), null, false,
                null);
        Rule licence = new Rule("r3", "lic", Rule.Kind.VM_HOST, true, Set.of("pacs-a"), "lic-pacs", false, null);
        Rule avoid = new Rule("r4", "no-dmz", Rule.Kind.VM_HOST, true, Set.of("pacs-a"), "lic-pacs", true, null);

        Scheduler.Decision d = place(vm("pacs-a", 512), hosts, List.of(apart), where);
        assertThat(why(d, "h1")).contains("rule 'pair' (VMs apart, must): VM 'pacs-b' runs here");
        assertThat(d.hostId()).isPresent().get().isNotEqualTo("h1");

        // a should-affinity with db (on h2) makes h2 the choice; it does not block h3
        d = place(vm("pacs-a", 512), hosts, List.of(apart, together), where);
        assertThat(d.hostId()).contains("h2");
        assertThat(d.verdicts().stream().filter(v -> v.hostId().equals("h3")).findFirst().orElseThrow()
                .brokenShouldRules()).singleElement().asString().contains("VMs together, should");

        // the licence rule leaves only the tagged host
        d = place(vm("pacs-a", 512), hosts, List.of(apart, together, licence), where);
        assertThat(d.hostId()).contains("h3");
        assertThat(why(d, "h2")).contains("host is not tagged lic-pacs");

        // avoiding the tag leaves h2
        d = place(vm("pacs-a", 512), hosts, List.of(apart, avoid), where);
        assertThat(why(d, "h3")).contains("host is tagged lic-pacs");
        assertThat(d.hostId()).contains("h2");
    }

    @Test
    void mustAffinityFollowsThePartner() {
        List<Scheduler.HostState> hosts = List.of(host("h1"), host("h2"));
        Rule together = new Rule("r", "app-db", Rule.Kind.VM_AFFINITY, true, Set.of("app", "db"), null, false, null);
        Scheduler.Decision d = place(vm("app", 256), hosts, List.of(together), Map.of("db", "h2"));
        assertThat(d.hostId()).contains("h2");
        assertThat(why(d, "h1")).contains("VM 'db' runs on another host");
    }

    @Test
    void preferenceIsCurrentHostThenLeastLoadedThenName() {
        List<Scheduler.HostState> hosts = List.of(host("h1", "c1", true, false, Set.of(), 0, 3000),
                host("h2", "c1", true, false, Set.of(), 0, 1000), host("h3", "c1", true, false, Set.of(), 0, 1000));
        assertThat(place(vm("v", 256), hosts, List.of(), Map.of()).hostId()).contains("h2");
        Scheduler.Request startOnH1 = new Scheduler.Request("v", "v", "c1", 1, 256, Set.of(), null, "h1", false, null,
                true);
        assertThat(place(startOnH1, hosts, List.of(), Map.of()).hostId()).contains("h1");
        Scheduler.Request migrate = new Scheduler.Request("v", "v", "c1", 1, 256, Set.of(), null, "h2", true, null,
                true);
        Scheduler.Decision d = place(migrate, hosts, List.of(), Map.of("v", "h2"));
        assertThat(d.hostId()).contains("h3");
        assertThat(why(d, "h2")).contains("runs here already");
    }

    @Test
    void localStoragePinsTheVmAndAnExplicitHostIsJudgedAlone() {
        List<Scheduler.HostState> hosts = List.of(host("h1"), host("h2"));
        Scheduler.Request pinned = new Scheduler.Request("v", "v", "c1", 1, 256, Set.of(), "h1", "h1", true, null,
                true);
        Scheduler.Decision d = place(pinned, hosts, List.of(), Map.of("v", "h1"));
        assertThat(d.hostId()).isEmpty();
        assertThat(why(d, "h2")).contains("local storage of another host");
        Scheduler.Request explicit = new Scheduler.Request("v", "v", "c1", 1, 256, Set.of(), null, null, false, "h2",
                true);
        d = place(explicit, hosts, List.of(), Map.of());
        assertThat(d.verdicts()).hasSize(1);
        assertThat(d.hostId()).contains("h2");
    }

    @Test
    void aVmAlreadyCountedOnItsHostIsNotCountedTwice() {
        // the VM (2048 MiB) is desired running on h1 and counted there; starting it must still fit
        Scheduler.HostState h1 = host("h1", "c1", true, false, Set.of(), 1, 7168);
        Scheduler.Request r = new Scheduler.Request("v", "v", "c1", 1, 2048, Set.of(), null, "h1", false, null, true);
        assertThat(place(r, List.of(h1), List.of(), Map.of("v", "h1")).hostId()).contains("h1");
    }
}
