// What `./stack.ts export` writes: read when the command line is parsed, apart from the exporter
// itself, which only that command loads.
export const EXPORT_FORMATS = ['kolla-ansible'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
