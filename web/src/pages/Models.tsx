import { Page } from '../components/Page';

// Placeholder: the page is built by its owner (see the dashboard issue).
export default function Models() {
  return <Page title="Models">{null}</Page>;
}
