/** Towns for the generated catalogues (the demo, the Fashion-MNIST pictures): places the gazetteer knows, as Gumtree writes them. */
export const PLACES = [
  'Wokingham, Berkshire',
  'Leeds, West Yorkshire',
  'Bristol, Bristol',
  'Camden, London',
  'Manchester, Manchester',
  'Glasgow, Glasgow',
  'Cardiff, Cardiff',
  'Norwich, Norfolk',
  'York, North Yorkshire',
  'Brighton, East Sussex',
  'Belfast, Belfast',
  'Exeter, Devon',
];
