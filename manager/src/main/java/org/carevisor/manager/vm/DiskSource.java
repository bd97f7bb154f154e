package org.carevisor.manager.vm;

import org.carevisor.protocol.DiskCreateRequest;

/** Where a new VM's disk comes from. */
public sealed interface DiskSource {
    /** Virtual size of the new disk in bytes. */
    long sizeBytes();

    /** Disk format of the new disk. */
    String format();

    /** What the agent must do to make the disk at {@code path}; null when another step places it. */
    DiskCreateRequest request(String path);

    /** The image-library image copied into the disk, if any. */
    default String sourceImageId() {
        return null;
    }

    /** The template whose base image a linked disk is an overlay on, if any. */
    default String baseTemplateId() {
        return null;
    }

    /** An empty disk. */
    record Blank(long sizeBytes, String format) implements DiskSource {
        public DiskCreateRequest request(String path) {
            return DiskCreateRequest.blank(path, format, sizeBytes);
        }
    }

    /** A copy of an image from the image library, whose format ({@code imageFormat}) the catalog recorded. */
    record ImageCopy(String imageId, String imagePath, String imageFormat, long sizeBytes, String format)
            implements DiskSource {
        public DiskCreateRequest request(String path) {
            return new DiskCreateRequest(path, format, sizeBytes, imagePath, imageFormat, DiskCreateRequest.Mode.COPY);
        }

        @Override
        public String sourceImageId() {
            return imageId;
        }
    }

    /**
     * A template's base image (of the template's recorded {@code baseFormat}): a qcow2 overlay on it (linked
     * clone) or an independent copy (full clone).
     */
    record TemplateBase(String templateId, String basePath, String baseFormat, long sizeBytes, boolean linked)
            implements DiskSource {
        public String format() {
            return "qcow2";
        }

        public DiskCreateRequest request(String path) {
            return new DiskCreateRequest(path, "qcow2", sizeBytes, basePath, baseFormat,
                    linked ? DiskCreateRequest.Mode.LINKED : DiskCreateRequest.Mode.COPY);
        }

        @Override
        public String baseTemplateId() {
            return linked ? templateId : null;
        }
    }

    /** A disk placed by the provisioning's pre-check (an import unpacks and verifies it there). */
    record Imported(long sizeBytes, String format) implements DiskSource {
        public DiskCreateRequest request(String path) {
            return null;
        }
    }

    /** An independent copy, of the same format, of another (stopped) VM's disk; backing chains are flattened. */
    record VmDiskCopy(String sourcePath, long sizeBytes, String format) implements DiskSource {
        public DiskCreateRequest request(String path) {
            return new DiskCreateRequest(path, format, sizeBytes, sourcePath, format, DiskCreateRequest.Mode.COPY);
        }
    }
}
