package org.carevisor.manager.placement;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Rules that cannot all hold are found and named; what only today's hosts prevent is a warning. */
class RuleConflictsTest {
    private static final Map<String, String> CLUSTER = Map.of("a", "c1", "b", "c1", "c", "c1", "x", "c2");
    private static final Map<String, String> NAMES = Map.of("a", "pacs-a", "b", "pacs-b", "c", "db", "x", "dmz-1");
    private static final List<RuleConflicts.HostTags> HOSTS = List.of(
            new RuleConflicts.HostTags("h1", "c1", Set.of("lic-pacs")), new RuleConflicts.HostTags("h2", "c1", Set.of()));

    private static Rule rule(String name, Rule.Kind kind, boolean must, String tag, boolean avoid, String... vms) {
        return new Rule(name, name, kind, must, Set.of(vms), tag, avoid, null);
    }

    @Test
    void apartAndTogetherForTheSameVmsConflict() {
        Rule apart = rule("pair", Rule.Kind.VM_ANTI_AFFINITY, true, null, false, "a", "b");
        Rule together = rule("stick", Rule.Kind.VM_AFFINITY, true, null, false, "a", "b");
        RuleConflicts.Result r = RuleConflicts.check(List.of(apart), together, CLUSTER, NAMES, HOSTS);
        assertThat(r.conflicts()).singleElement().asString().contains("rule 'pair'").contains("rule 'stick'")
                .contains("'pacs-a'").contains("'pacs-b'");
        // in the other order too
        assertThat(RuleConflicts.check(List.of(together), apart, CLUSTER, NAMES, HOSTS).conflicts()).hasSize(1);
        // a should rule does not contradict a must rule
        Rule shouldTogether = rule("soft", Rule.Kind.VM_AFFINITY, false, null, false, "a", "b");
        assertThat(RuleConflicts.check(List.of(apart), shouldTogether, CLUSTER, NAMES, HOSTS).conflicts()).isEmpty();
    }

    @Test
    void togetherIsTransitive() {
        Rule ab = rule("ab", Rule.Kind.VM_AFFINITY, true, null, false, "a", "b");
        Rule bc = rule("bc", Rule.Kind.VM_AFFINITY, true, null, false, "b", "c");
        Rule apart = rule("ac-apart", Rule.Kind.VM_ANTI_AFFINITY, true, null, false, "a", "c");
        assertThat(RuleConflicts.check(List.of(ab, bc), apart, CLUSTER, NAMES, HOSTS).conflicts()).hasSize(1);
    }

    @Test
    void aTagBothRequiredAndAvoidedConflicts() {
        Rule runOn = rule("lic", Rule.Kind.VM_HOST, true, "lic-pacs", false, "a");
        Rule avoid = rule("no-lic", Rule.Kind.VM_HOST, true, "lic-pacs", true, "a");
        assertThat(RuleConflicts.check(List.of(runOn), avoid, CLUSTER, NAMES, HOSTS).conflicts()).singleElement()
                .asString().contains("rule 'lic'").contains("rule 'no-lic'");
        // also through a must-affinity: b must be with a, and b must avoid what a needs
        Rule together = rule("ab", Rule.Kind.VM_AFFINITY, true, null, false, "a", "b");
        Rule bAvoids = rule("b-avoid", Rule.Kind.VM_HOST, true, "lic-pacs", true, "b");
        assertThat(RuleConflicts.check(List.of(runOn, together), bAvoids, CLUSTER, NAMES, HOSTS).conflicts())
                .hasSize(1);
    }

    @Test
    void togetherAcrossClustersConflicts() {
        Rule together = rule("cross", Rule.Kind.VM_AFFINITY, true, null, false, "a", "x");
        assertThat(RuleConflicts.check(List.of(), together, CLUSTER, NAMES, HOSTS).conflicts()).singleElement()
                .asString().contains("different clusters");
    }

    @Test
    void missingTaggedHostsAndTooFewHostsAreWarnings() {
        Rule needsTag = rule("gpu", Rule.Kind.VM_HOST, true, "gpu", false, "c");
        RuleConflicts.Result r = RuleConflicts.check(List.of(), needsTag, CLUSTER, NAMES, HOSTS);
        assertThat(r.conflicts()).isEmpty();
        assertThat(r.warnings()).singleElement().asString().contains("no host").contains("gpu");
        Rule three = rule("spread", Rule.Kind.VM_ANTI_AFFINITY, true, null, false, "a", "b", "c");
        r = RuleConflicts.check(List.of(), three, CLUSTER, NAMES, HOSTS);
        assertThat(r.conflicts()).isEmpty();
        assertThat(r.warnings()).singleElement().asString().contains("needs 3 hosts");
        Rule ok = rule("lic", Rule.Kind.VM_HOST, true, "lic-pacs", false, "a");
        assertThat(RuleConflicts.check(List.of(), ok, CLUSTER, NAMES, HOSTS).warnings()).isEmpty();
    }
}
