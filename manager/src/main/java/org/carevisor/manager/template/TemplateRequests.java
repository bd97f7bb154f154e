package org.carevisor.manager.template;

/** Request bodies of the template API. Unknown fields are refused when they are read. */
public final class TemplateRequests {
    private TemplateRequests() {
    }

    /**
     * Turn a stopped VM into a template.
     *
     * @param vm          id or name of the VM (it becomes the template; its disks become read-only base images)
     * @param name        template name; default: the name of the template the VM was deployed from, else the VM's
     * @param description free text
     * @param guestOs     the guest operating system, e.g. "Debian 12"
     */
    public record Create(String vm, String name, String description, String guestOs) {
    }

    /**
     * Deploy a VM from a template.
     *
     * @param name        the new VM's name
     * @param mode        {@code linked} (qcow2 overlay on the base image; fast) or {@code full} (independent copy)
     * @param cpus        default: the template's
     * @param memoryMiB   default: the template's
     * @param start       start the VM once deployed
     */
    public record Deploy(String name, String mode, Integer cpus, Integer memoryMiB, String description, Boolean start) {
    }

    /** Reason for a qualification or retirement, kept in the audit trail. */
    /** A reason, and for critical actions the electronic signature (checked before the endpoint runs). */
    public record Reason(String reason, org.carevisor.manager.auth.AuthService.SignatureRequest signature) {
    }
}
