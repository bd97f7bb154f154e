package org.carevisor.protocol;

/**
 * Asks an agent to shut a VM down: ACPI power button first, power-off when the guest has not stopped
 * after {@code timeoutSeconds}; 0 powers off at once. {@code hostShutdown}: the VM stops because its host (or the
 * whole site) goes down; its stop cause is then {@link StopCause#HOST_SHUTDOWN}, so it starts again, in start order,
 * when its host is back.
 */
public record ShutdownRequest(int timeoutSeconds, boolean hostShutdown) {
    public ShutdownRequest(int timeoutSeconds) {
        this(timeoutSeconds, false);
    }
}
