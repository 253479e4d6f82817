/** The project's ONNX exporter for TF.js LayersModels (see export.ts for the graph's conventions). */
export { exportLayersModel, DEFAULT_OPSET, MIN_OPSET, MAX_OPSET, type ExportOptions } from './export.js';
export { UnsupportedLayerError, SUPPORTED_LAYERS, SUPPORTED_ACTIVATIONS } from './layers.js';
