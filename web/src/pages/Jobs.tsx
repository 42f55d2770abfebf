import { Page } from '../components/Page';

// Placeholder: the page is built by its owner (see the dashboard issue).
export default function Jobs() {
  return <Page title="Jobs">{null}</Page>;
}
