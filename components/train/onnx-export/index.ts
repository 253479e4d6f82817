/** The project's ONNX exporter for TF.js LayersModels (see export.ts for the graph's conventions). */
export { exportLayersModel, DEFAULT_OPSET, MIN_OPSET, MAX_OPSET, type ExportOptions } from './export.js';
export {
  UnsupportedLayerError,
  SUPPORTED_LAYERS,
  SUPPORTED_ACTIVATIONS,
  fail,
  one,
  out,
  variable,
  weight,
  type LayerCall,
  type Translate,
} from './layers.js';
export { attr, type Value } from './graph.js';
