package org.carevisor.manager.auth;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Which privilege every API endpoint needs, and on what. Default deny: an endpoint without an entry here
 * cannot be registered (the server refuses to start), so no endpoint is ever unchecked. The permission
 * matrix test calls every endpoint with every built-in role against this table.
 */
public final class AccessPolicy {
    /** What the privilege is checked on. */
    public enum Target {
        /** No login needed (health, OpenAPI document, login). */
        PUBLIC,
        /** Any logged-in user, for their own account (whoami, logout, own password, own tokens). */
        SELF,
        /** The privilege on everything (global scope). */
        GLOBAL,
        /** The privilege on some scope; the endpoint shows only what the caller may see. */
        ANY,
        /** The VM in the path ({id}): global, its cluster, its host or the VM itself. */
        VM,
        /** The host in the path. */
        HOST,
        /** The cluster in the path. */
        CLUSTER,
        /**
         * Where a new VM will be: the host named in the body (its scope path holds its cluster), else the cluster
         * named in the body, else the cluster the manager places it in (the default cluster, or the only one
         * with reporting hosts). Resolved once; the endpoint works on the ids that were checked.
         */
        CLUSTER_IN_BODY,
        /** The object of the task in the path (a VM or host), or global. */
        TASK,
        /** The template in the path (global privilege; reasons required for qualified templates). */
        TEMPLATE,
        /** The placement rule in the path: the privilege on every VM it names. */
        PLACEMENT_RULE
    }

    /**
     * @param signatureAction the action's name for electronic signatures (see
     *                        {@link SecuritySettings#SIGNATURE_ACTIONS}), or null when it is never signed
     */
    public record Rule(Target target, Privilege privilege, String signatureAction) {
        public boolean changes(String method) {
            return !method.equals("GET");
        }
    }

    private static final Map<String, Rule> RULES = new LinkedHashMap<>();

    static {
        String v = "/api/v1";
        // public
        put("GET", v + "/health", Target.PUBLIC, null);
        put("GET", v + "/openapi.json", Target.PUBLIC, null);
        put("POST", v + "/auth/login", Target.PUBLIC, null);
        // own account
        put("GET", v + "/auth/whoami", Target.SELF, null);
        put("POST", v + "/auth/logout", Target.SELF, null);
        put("POST", v + "/auth/password", Target.SELF, null);
        put("GET", v + "/auth/tokens", Target.SELF, null);
        put("POST", v + "/auth/tokens", Target.SELF, null);
        put("DELETE", v + "/auth/tokens/{id}", Target.SELF, null);
        // inventory
        put("GET", v + "/hosts", Target.ANY, Privilege.SYS_VIEW);
        put("GET", v + "/hosts/{id}", Target.HOST, Privilege.SYS_VIEW);
        put("GET", v + "/images", Target.ANY, Privilege.SYS_VIEW);
        put("GET", v + "/vms", Target.ANY, Privilege.SYS_VIEW);
        put("GET", v + "/vms/{id}", Target.VM, Privilege.SYS_VIEW);
        put("GET", v + "/vms/{id}/history", Target.VM, Privilege.SYS_VIEW);
        put("GET", v + "/vms/{id}/placement", Target.VM, Privilege.SYS_VIEW);
        put("GET", v + "/vms/{id}/snapshots", Target.VM, Privilege.SYS_VIEW);
        put("GET", v + "/vms/{id}/snapshots/{snapshot}", Target.VM, Privilege.SYS_VIEW);
        put("GET", v + "/tasks", Target.ANY, Privilege.SYS_VIEW);
        put("GET", v + "/tasks/{id}", Target.TASK, Privilege.SYS_VIEW);
        put("GET", v + "/templates", Target.ANY, Privilege.SYS_VIEW);
        put("GET", v + "/templates/{id}", Target.ANY, Privilege.SYS_VIEW);
        put("GET", v + "/clusters", Target.ANY, Privilege.SYS_VIEW);
        put("GET", v + "/clusters/{id}", Target.CLUSTER, Privilege.SYS_VIEW);
        put("GET", v + "/clusters/{id}/recommendations", Target.CLUSTER, Privilege.SYS_VIEW);
        put("GET", v + "/ha", Target.ANY, Privilege.SYS_VIEW);
        put("GET", v + "/site", Target.GLOBAL, Privilege.SYS_VIEW);
        put("GET", v + "/vms/{id}/ha", Target.VM, Privilege.SYS_VIEW);
        put("GET", v + "/clusters/{id}/ha", Target.CLUSTER, Privilege.SYS_VIEW);
        put("GET", v + "/hosts/{id}/fence", Target.HOST, Privilege.HOST_ADMIN);
        put("GET", v + "/hosts/{id}/evacuation", Target.HOST, Privilege.SYS_VIEW);
        put("GET", v + "/networks", Target.ANY, Privilege.SYS_VIEW);
        put("GET", v + "/networks/{id}", Target.ANY, Privilege.SYS_VIEW);
        put("GET", v + "/placement-rules", Target.ANY, Privilege.SYS_VIEW);
        put("GET", v + "/placement-rules/{id}", Target.PLACEMENT_RULE, Privilege.SYS_VIEW);
        put("GET", v + "/migrations", Target.ANY, Privilege.SYS_VIEW);
        put("GET", v + "/roles", Target.ANY, Privilege.SYS_VIEW);
        // VM power and console
        for (String op : new String[] {"start", "shutdown", "poweroff", "reboot", "pause", "resume"}) {
            put("POST", v + "/vms/{id}/" + op, Target.VM, Privilege.VM_POWER_STATE);
        }
        put("GET", v + "/vms/{id}/console", Target.VM, Privilege.VM_CONSOLE);
        // VM configuration
        put("POST", v + "/vms", Target.CLUSTER_IN_BODY, Privilege.VM_CONFIGURE);
        put("PATCH", v + "/vms/{id}", Target.VM, Privilege.VM_CONFIGURE);
        put("PATCH", v + "/vms/{id}/ha", Target.VM, Privilege.VM_CONFIGURE);
        put("DELETE", v + "/vms/{id}", Target.VM, Privilege.VM_CONFIGURE, "vm.delete");
        put("POST", v + "/vms/{id}/clone", Target.VM, Privilege.VM_CONFIGURE);
        put("POST", v + "/vms/{id}/archive", Target.VM, Privilege.VM_CONFIGURE, "vm.archive");
        put("POST", v + "/vms/{id}/restore", Target.VM, Privilege.VM_CONFIGURE);
        put("POST", v + "/vm-imports", Target.CLUSTER_IN_BODY, Privilege.VM_CONFIGURE);
        put("POST", v + "/vms/{id}/export", Target.VM, Privilege.VM_EXPORT);
        // snapshots
        put("POST", v + "/vms/{id}/snapshots", Target.VM, Privilege.VM_SNAPSHOT);
        put("POST", v + "/vms/{id}/snapshots/{snapshot}/revert", Target.VM, Privilege.VM_SNAPSHOT);
        put("DELETE", v + "/vms/{id}/snapshots/{snapshot}", Target.VM, Privilege.VM_SNAPSHOT);
        // migration
        put("POST", v + "/vms/{id}/migrate", Target.VM, Privilege.VM_MIGRATE);
        put("POST", v + "/tasks/{id}/cancel", Target.TASK, Privilege.VM_MIGRATE);
        // templates
        put("POST", v + "/templates", Target.GLOBAL, Privilege.TEMPLATE_MANAGE);
        put("DELETE", v + "/templates/{id}", Target.TEMPLATE, Privilege.TEMPLATE_MANAGE, "template.delete");
        put("POST", v + "/templates/{id}/retire", Target.TEMPLATE, Privilege.TEMPLATE_MANAGE, "template.retire");
        put("POST", v + "/templates/{id}/deploy", Target.CLUSTER_IN_BODY, Privilege.TEMPLATE_MANAGE);
        put("POST", v + "/templates/{id}/qualify", Target.TEMPLATE, Privilege.TEMPLATE_QUALIFY, "template.qualify");
        // hosts and clusters
        put("POST", v + "/hosts/join-tokens", Target.GLOBAL, Privilege.HOST_ADMIN);
        put("GET", v + "/hosts/join-tokens", Target.GLOBAL, Privilege.HOST_ADMIN);
        put("POST", v + "/hosts/{id}/stop-all-vms", Target.HOST, Privilege.HOST_ADMIN);
        put("DELETE", v + "/hosts/{id}", Target.HOST, Privilege.HOST_ADMIN);
        put("PATCH", v + "/hosts/{id}", Target.HOST, Privilege.HOST_ADMIN);
        put("POST", v + "/hosts/{id}/maintenance", Target.HOST, Privilege.HOST_ADMIN);
        put("DELETE", v + "/hosts/{id}/maintenance", Target.HOST, Privilege.HOST_ADMIN);
        put("POST", v + "/clusters", Target.GLOBAL, Privilege.HOST_ADMIN);
        put("PATCH", v + "/clusters/{id}", Target.CLUSTER, Privilege.HOST_ADMIN);
        put("PATCH", v + "/clusters/{id}/ha", Target.CLUSTER, Privilege.HOST_ADMIN);
        put("PATCH", v + "/hosts/{id}/fence", Target.HOST, Privilege.HOST_ADMIN);
        put("DELETE", v + "/clusters/{id}", Target.GLOBAL, Privilege.HOST_ADMIN);
        put("POST", v + "/networks", Target.GLOBAL, Privilege.HOST_ADMIN);
        put("DELETE", v + "/networks/{id}", Target.GLOBAL, Privilege.HOST_ADMIN);
        put("POST", v + "/placement-rules", Target.GLOBAL, Privilege.HOST_ADMIN);
        put("DELETE", v + "/placement-rules/{id}", Target.GLOBAL, Privilege.HOST_ADMIN);
        // the site: orderly shutdown and resume (GET /site is Sys.View, below)
        put("POST", v + "/site/shutdown", Target.GLOBAL, Privilege.HOST_ADMIN, "site.shutdown");
        put("POST", v + "/site/resume", Target.GLOBAL, Privilege.HOST_ADMIN);
        // users
        put("GET", v + "/users", Target.GLOBAL, Privilege.USER_ADMIN);
        put("POST", v + "/users", Target.GLOBAL, Privilege.USER_ADMIN);
        put("GET", v + "/users/{id}", Target.GLOBAL, Privilege.USER_ADMIN);
        put("PATCH", v + "/users/{id}", Target.GLOBAL, Privilege.USER_ADMIN);
        put("POST", v + "/users/{id}/password-reset", Target.GLOBAL, Privilege.USER_ADMIN);
        put("POST", v + "/users/{id}/unlock", Target.GLOBAL, Privilege.USER_ADMIN);
        put("POST", v + "/users/{id}/roles", Target.GLOBAL, Privilege.USER_ADMIN);
        put("DELETE", v + "/users/{id}/roles/{assignment}", Target.GLOBAL, Privilege.USER_ADMIN);
        put("POST", v + "/roles", Target.GLOBAL, Privilege.USER_ADMIN);
        put("DELETE", v + "/roles/{id}", Target.GLOBAL, Privilege.USER_ADMIN);
        put("GET", v + "/settings/security", Target.GLOBAL, Privilege.USER_ADMIN);
        put("PATCH", v + "/settings/security", Target.GLOBAL, Privilege.USER_ADMIN);
        // audit trail
        put("GET", v + "/audit", Target.GLOBAL, Privilege.AUDIT_REVIEW);
        put("GET", v + "/audit/export", Target.GLOBAL, Privilege.AUDIT_REVIEW);
        put("POST", v + "/audit/verify", Target.GLOBAL, Privilege.AUDIT_REVIEW);
        put("GET", v + "/audit/checkpoints", Target.GLOBAL, Privilege.AUDIT_REVIEW);
        put("GET", v + "/audit/reviews", Target.GLOBAL, Privilege.AUDIT_REVIEW);
        put("POST", v + "/audit/reviews", Target.GLOBAL, Privilege.AUDIT_REVIEW, "audit.review");
    }

    private AccessPolicy() {
    }

    private static void put(String method, String path, Target t, Privilege p) {
        put(method, path, t, p, null);
    }

    private static void put(String method, String path, Target t, Privilege p, String signature) {
        if (RULES.put(method + " " + path, new Rule(t, p, signature)) != null) {
            throw new IllegalStateException("duplicate access rule " + method + " " + path);
        }
    }

    /** The rule of an endpoint; throws when there is none (default deny, checked when routes are registered). */
    public static Rule rule(String method, String path) {
        Rule r = RULES.get(method + " " + path);
        if (r == null) {
            throw new IllegalStateException("no access rule for " + method + " " + path
                    + ": every endpoint needs one in AccessPolicy (default deny)");
        }
        return r;
    }

    /** Every rule, "METHOD /path" to rule, for the permission matrix test and the docs. */
    public static Map<String, Rule> all() {
        return java.util.Collections.unmodifiableMap(RULES);
    }
}
