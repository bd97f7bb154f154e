package org.carevisor.manager.auth;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * What a role may do. Privileges are granted through roles on a scope (everything, a cluster, a host, a VM);
 * every API endpoint names the one it needs ({@link AccessPolicy}). Separated as BSI SYS.1.5 asks: running
 * VMs, configuring them, administering hosts, administering users and reviewing the audit trail are
 * different privileges, so that no role needs to hold them all.
 */
public enum Privilege {
    /** See hosts, VMs, images, templates, tasks and their state (nothing secret, no audit trail). */
    SYS_VIEW("Sys.View"),
    /** Start, shut down, power off, reboot, pause and resume VMs. */
    VM_POWER_STATE("VM.PowerState"),
    /** Read a VM's serial console. */
    VM_CONSOLE("VM.Console"),
    /** Take, revert and delete snapshots. */
    VM_SNAPSHOT("VM.Snapshot"),
    /** Export a VM into a file. */
    VM_EXPORT("VM.Export"),
    /** Move VMs between hosts. */
    VM_MIGRATE("VM.Migrate"),
    /** Create, change, clone, import, archive, restore and delete VMs. */
    VM_CONFIGURE("VM.Configure"),
    /** Make templates from VMs, deploy, retire and delete them. */
    TEMPLATE_MANAGE("Template.Manage"),
    /** Mark a template qualified (a critical, signed action). */
    TEMPLATE_QUALIFY("Template.Qualify"),
    /** Hosts, clusters, networks, placement rules, maintenance, join tokens. */
    HOST_ADMIN("Host.Admin"),
    /** Users, roles, role assignments, other users' tokens, security settings. */
    USER_ADMIN("User.Admin"),
    /** Read, export and verify the audit trail; record signed reviews. */
    AUDIT_REVIEW("Audit.Review");

    private final String id;

    Privilege(String id) {
        this.id = id;
    }

    /** The name used in the API and the docs, e.g. {@code VM.PowerState}. */
    public String id() {
        return id;
    }

    public static Privilege parse(String s) {
        for (Privilege p : values()) {
            if (p.id.equalsIgnoreCase(s)) {
                return p;
            }
        }
        return null;
    }

    public static Set<Privilege> all() {
        return EnumSet.allOf(Privilege.class);
    }

    public static String names() {
        return Arrays.stream(values()).map(Privilege::id).collect(Collectors.joining(", "));
    }
}
